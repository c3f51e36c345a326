"""What two `kedro run`s started at once do to the embedded SQLite store (the default) — and to the team server.

Each round makes two copies of the project (one checkout allows one run at a time:
``data/.kedro_run.lock``), points both at one tracking store and starts the same short run
in both at the same moment: ``kedro run --env=test --pipelines=fundamentals
--to-nodes=fundamentals.linear_neuron.record_results`` (the data nodes, one Keras variant,
its nested MLflow run). Stores:

- ``fresh``: a new, empty SQLite file (what a team gets when two people's first runs, or
  two scheduled runs, share a new ``mlflow.db`` on a shared disk);
- ``existing``: a copy of a SQLite file an earlier run has already created (schema and
  experiment in place);
- ``server`` (with ``--server``): the PostgreSQL-backed ``team_server``, fresh per round.

    python benchmarks/concurrent_runs.py [--rounds 3] [--server] [--only fresh|existing|server]

Prints, per round, each run's exit status and, for a failed one, its error line; then, per
store, how many rounds had both runs finish with every MLflow run FINISHED. Writes nothing
outside a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUN = [
    *(sys.executable, "-m", "kedro", "run", "--env=test", "--pipelines=fundamentals"),
    "--to-nodes=fundamentals.linear_neuron.record_results",
]


def project_copy(folder: Path) -> Path:
    """pyproject.toml, conf/ (no conf/local) and src/ in ``folder``: a checkout of its own."""
    folder.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    shutil.copytree(PROJECT_ROOT / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return folder


def environment(tracking_uri: str) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def error_line(output: str) -> str:
    """The last line that names an exception, shortened."""
    lines = [line.strip() for line in output.splitlines() if "Error" in line or "Exception" in line]
    return (lines[-1] if lines else output.strip().splitlines()[-1] if output.strip() else "")[:160]


def run_statuses(tracking_uri: str) -> list[str]:
    """Every MLflow run's status in the store."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    return [run.info.status for run in client.search_runs(experiments)] if experiments else []


def concurrent_round(folder: Path, tracking_uri: str) -> tuple[bool, list[str]]:
    """Start the run in two copies at once; whether both finished with their 2 + 2 runs FINISHED, and one line per process."""
    before = len(run_statuses(tracking_uri))
    copies = [project_copy(folder / f"copy_{index}") for index in (1, 2)]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(RUN, cwd=copy, env=environment(tracking_uri), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for copy in copies
    ]
    outputs = [process.communicate(timeout=900)[0] for process in processes]
    seconds = time.perf_counter() - started
    statuses = run_statuses(tracking_uri)
    lines = [
        f"  run {index}: exit {process.returncode}" + (f" — {error_line(output)}" if process.returncode else "")
        for index, (process, output) in enumerate(zip(processes, outputs, strict=True), start=1)
    ]
    lines.append(f"  {seconds:.0f}s; MLflow runs in the store: {sorted(statuses)}")
    both = all(process.returncode == 0 for process in processes) and len(statuses) == before + 4 and set(statuses) == {"FINISHED"}
    return both, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", action="store_true", help="also measure the PostgreSQL team server")
    parser.add_argument("--only", choices=["fresh", "existing", "server"], help="measure one store only")
    args = parser.parse_args()
    results: dict[str, list[bool]] = {}
    with tempfile.TemporaryDirectory(prefix="concurrent_runs_") as tmp:
        root = Path(tmp)
        seed = project_copy(root / "seed")  # one run alone leaves the "existing" store
        seeded_db = root / "seed.db"
        subprocess.run(RUN, cwd=seed, env=environment(f"sqlite:///{seeded_db}"), check=True, capture_output=True)
        stores = [args.only] if args.only else ["fresh", "existing", *(["server"] if args.server else [])]
        for store in stores:
            for round_ in range(1, args.rounds + 1):
                folder = root / f"{store}_{round_}"
                folder.mkdir()
                if store == "server":
                    from neural_pipelines import team_server

                    state = team_server.start(folder / "server", port=team_server.free_port())
                    try:
                        ok, lines = concurrent_round(folder, state.tracking_uri)
                    finally:
                        team_server.stop(folder / "server")
                else:
                    db = folder / "mlflow.db"
                    if store == "existing":
                        with closing(sqlite3.connect(seeded_db)) as source, closing(sqlite3.connect(db)) as target:
                            source.backup(target)
                    ok, lines = concurrent_round(folder, f"sqlite:///{db}")
                print(f"{store} round {round_}: {'both finished' if ok else 'NOT both finished'}")
                print("\n".join(lines), flush=True)
                results.setdefault(store, []).append(ok)
    print()
    for store, outcomes in results.items():
        print(f"{store}: both runs finished, every MLflow run FINISHED, in {sum(outcomes)} of {len(outcomes)} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
