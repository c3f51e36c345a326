"""Zip archives downloaded once, checked, and extracted into an image folder.

``ensure_extracted(archives, root, downloads)`` is what ``ImageFolderDataset`` calls (when its
``archives`` option is set, i.e. in the ``full`` environment) before reading ``root``. Each
archive is a dict from the catalog::

    archives:
      - url: https://storage.googleapis.com/learning-datasets/horse-or-human.zip
        sha256: null            # hex digest; null: not checked, the computed digest is logged
        extract_to: train       # folder under root ("" = root itself)
        strip_prefix: ""        # leading member path to drop, e.g. "cats_and_dogs_filtered/"
        filename: null          # name in downloads/ (default: the URL's last segment)
        contents: horses/, humans/   # optional, for messages: what the folder then holds
        timeout: 10             # optional: seconds to wait for the server

What a crash or a bad download can leave behind, and why none of it is trusted:

- the zip streams into ``downloads/<filename>.part`` and is renamed to ``<filename>`` only when
  complete and matching its sha256 (``download.download_checked``); a ``.part`` is never read;
- members are extracted into a temporary sibling of the target (``.<name>.partial-*``, removed
  by the next run), then moved into place, and only then is the completion marker
  ``<root>/<extract_to>/.extracted-<filename>.json`` written. An archive counts as extracted
  only when that marker names the same URL, prefix and (if pinned) sha256 and the top-level
  files and folders it lists are all still there; otherwise it is extracted again (from the
  zip in ``downloads/`` if that is there), replacing what an earlier attempt moved into place;
- a zip that this run downloaded and that cannot be extracted (corrupt, a member escaping the
  target, nothing under ``strip_prefix``) is deleted, so the next run downloads it again.

A zip found in ``downloads/`` is used without any network access (checked against ``sha256``
when one is pinned), so offline users can place the files by hand; when a download fails
(offline, timeout, interrupted), the error lists every URL and where each file or folder goes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import DatasetError

from neural_pipelines.datasets.download import CHUNK_BYTES, download_checked, sha256_of

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
MARKER_PREFIX = ".extracted-"
PARTIAL_INFIX = ".partial-"
IGNORED_TOP_LEVEL = ("__MACOSX/",)  # macOS resource forks: "._name.jpg" files that are no images
ARCHIVE_KEYS = {"url", "sha256", "extract_to", "strip_prefix", "filename", "contents", "timeout"}
SHOWN_MEMBERS = 5


@dataclass(frozen=True)
class Archive:
    """One entry of ``archives``, checked."""

    url: str
    sha256: str | None
    extract_to: str
    strip_prefix: str
    filename: str
    contents: str | None
    timeout: float

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Archive:
        unknown = set(config) - ARCHIVE_KEYS
        if unknown or not config.get("url"):
            raise DatasetError(
                f"Archive entry {config!r}: needs 'url'"
                + (f"; unknown keys {sorted(unknown)}" if unknown else "")
                + f". Allowed keys: {', '.join(sorted(ARCHIVE_KEYS))}."
            )
        url = str(config["url"])
        filename = config.get("filename") or PurePosixPath(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
        if not filename or "/" in filename or "\\" in filename or filename in {".", ".."}:
            raise DatasetError(f"Archive {url}: cannot use {filename!r} as a file name; set 'filename'.")
        extract_to = str(config.get("extract_to") or "").strip("/")
        if extract_to and not _is_safe_relative(extract_to):
            raise DatasetError(f"Archive {url}: extract_to {extract_to!r} must be a folder inside the dataset's path.")
        strip_prefix = str(config.get("strip_prefix") or "")
        if strip_prefix and not strip_prefix.endswith("/"):
            strip_prefix += "/"
        sha256 = config.get("sha256")
        return cls(
            url=url,
            sha256=str(sha256).lower() if sha256 else None,
            extract_to=extract_to,
            strip_prefix=strip_prefix,
            filename=filename,
            contents=config.get("contents"),
            timeout=float(config.get("timeout") or DEFAULT_TIMEOUT),
        )

    def target(self, root: Path) -> Path:
        return root / self.extract_to if self.extract_to else root

    def marker(self, root: Path) -> Path:
        return self.target(root) / f"{MARKER_PREFIX}{self.filename}.json"

    def marker_content(self, sha256: str, files: int, entries: list[str]) -> dict[str, Any]:
        return {"url": self.url, "sha256": sha256, "strip_prefix": self.strip_prefix, "files": files, "entries": entries}

    def is_extracted(self, root: Path) -> bool:
        try:
            recorded = json.loads(self.marker(root).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(recorded, dict) or not isinstance(recorded.get("entries"), list):
            return False
        target = self.target(root)
        return (
            recorded.get("url") == self.url
            and recorded.get("strip_prefix") == self.strip_prefix
            and (self.sha256 is None or recorded.get("sha256") == self.sha256)
            and all(isinstance(entry, str) and _is_safe_relative(entry) and (target / entry).exists() for entry in recorded["entries"])
        )


def _is_safe_relative(name: str) -> bool:
    """Whether a (zip member or config) path stays inside the folder it is joined to."""
    if "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and not (path.parts and ":" in path.parts[0])


def place_by_hand(archives: list[Archive], root: Path, downloads: Path) -> str:
    """What to do when nothing can be downloaded: every URL, where its zip goes, the folders it fills."""
    lines = [f"To set this up by hand, download these files into {downloads}/ (they are then checked and extracted, no network needed):"]
    for archive in archives:
        checksum = f"sha256 {archive.sha256}" if archive.sha256 else "sha256 not pinned"
        lines.append(f"  {archive.url} -> {downloads / archive.filename}  ({checksum})")
    lines.append("They are extracted into this layout; or extract them yourself into it and remove `archives` from the catalog entry:")
    for archive in archives:
        source = f"{archive.strip_prefix} inside {archive.filename}" if archive.strip_prefix else f"the top level of {archive.filename}"
        contents = f": {archive.contents}" if archive.contents else ""
        lines.append(f"  {archive.target(root)}/  <- {source}{contents}")
    return "\n".join(lines)


def _unzip(zip_path: Path, archive: Archive, into: Path) -> int:
    """Extracts the members under ``archive.strip_prefix`` into ``into``; returns the number of files."""
    with zipfile.ZipFile(zip_path) as zip_file:
        members = zip_file.infolist()
        escaping = [member.filename for member in members if not _is_safe_relative(member.filename)]
        if escaping:
            shown = ", ".join(repr(name) for name in escaping[:SHOWN_MEMBERS])
            raise DatasetError(
                f"{zip_path} has {len(escaping)} member(s) that would be written outside the target folder "
                f"({shown}); refusing to extract it."
            )
        files = 0
        skipped: list[str] = []
        resolved_into = into.resolve()
        for member in members:
            name = member.filename
            if name.startswith(IGNORED_TOP_LEVEL) or not name.startswith(archive.strip_prefix):
                skipped.append(name)
                continue
            relative = name[len(archive.strip_prefix) :]
            if not relative.strip("/"):
                continue  # the prefix folder itself
            destination = into.joinpath(*PurePosixPath(relative).parts)
            if not destination.resolve().is_relative_to(resolved_into):  # belt and braces over _is_safe_relative
                raise DatasetError(f"{zip_path}: member {name!r} would be written outside the target folder; refusing to extract it.")
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            if stat.S_ISLNK(member.external_attr >> 16):
                skipped.append(name)  # a symbolic link: never followed nor recreated
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zip_file.open(member) as source, destination.open("wb") as target:
                shutil.copyfileobj(source, target, CHUNK_BYTES)
            files += 1
    if skipped:
        logger.info(
            "%s: skipped %d member(s) outside %r (e.g. %s)",
            zip_path.name,
            len(skipped),
            archive.strip_prefix or "the archive",
            ", ".join(skipped[:SHOWN_MEMBERS]),
        )
    if files == 0:
        top_level = sorted({PurePosixPath(member.filename).parts[0] for member in members if member.filename.strip("/")})
        raise DatasetError(
            f"{zip_path} has no files under strip_prefix {archive.strip_prefix!r}; "
            f"its top-level entries are {top_level[: SHOWN_MEMBERS * 2]}. Fix 'strip_prefix' in the catalog."
        )
    return files


def _move_into_place(extracted: Path, target: Path) -> list[str]:
    """Renames ``extracted`` to ``target`` (one step when ``target`` does not exist yet), else entry by entry.

    Returns the names of the top-level entries moved in.
    """
    entries = sorted(extracted.iterdir())
    names = [entry.name for entry in entries]
    if not target.exists():
        extracted.rename(target)
        return names
    for entry in entries:
        destination = target / entry.name
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        elif destination.exists() or destination.is_symlink():
            destination.unlink()
        entry.rename(destination)
    return names


def _write_marker(marker: Path, content: dict[str, Any]) -> None:
    partial = marker.with_name(marker.name + ".part")
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, marker)


def _extract(zip_path: Path, archive: Archive, root: Path, sha256: str) -> None:
    target = archive.target(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    marker = archive.marker(root)
    marker.unlink(missing_ok=True)  # whatever is moved in from here on is not trusted until the marker is back
    for stale in target.parent.glob(f".{target.name}{PARTIAL_INFIX}*"):
        logger.info("Removing %s, left over from an interrupted extraction", stale)
        shutil.rmtree(stale, ignore_errors=True)
    logger.info("Extracting %s into %s", zip_path, target)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}{PARTIAL_INFIX}", dir=target.parent))
    try:
        files = _unzip(zip_path, archive, temporary)
        entries = _move_into_place(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    _write_marker(marker, archive.marker_content(sha256, files, entries))
    logger.info("Extracted %d files from %s into %s", files, zip_path.name, target)


def _fetch(archive: Archive, downloads: Path, hint: str) -> tuple[Path, str, bool]:
    """The checked zip in ``downloads``, its sha256, and whether it was downloaded just now."""
    zip_path = downloads / archive.filename
    if zip_path.is_file():
        sha256 = sha256_of(zip_path)
        if archive.sha256 and sha256 != archive.sha256:
            raise DatasetError(
                f"{zip_path} has sha256 {sha256}, expected {archive.sha256}: delete it to download it again, "
                f"or replace it with {archive.url}."
            )
        if not archive.sha256:
            logger.warning("%s has no sha256 in the catalog; %s has sha256 %s", archive.url, zip_path, sha256)
        logger.info("Using %s (already downloaded)", zip_path)
        return zip_path, sha256, False
    return zip_path, download_checked(archive.url, zip_path, archive.sha256, archive.timeout, hint=hint), True


def ensure_extracted(archives: list[dict], root: Path, downloads: Path) -> None:
    """Makes sure every archive is downloaded (checked) and extracted under ``root``; see the module doc.

    Does nothing (and touches no network) for an archive whose completion marker is in place.
    Raises ``DatasetError`` when a download fails (naming every URL and the layout to set up by
    hand), a checksum does not match, or an archive cannot be extracted.
    """
    root, downloads = Path(root), Path(downloads)
    checked = [Archive.from_config(dict(config)) for config in archives]
    pending = [archive for archive in checked if not archive.is_extracted(root)]
    if not pending:
        logger.debug("All %d archive(s) already extracted under %s", len(checked), root)
        return
    hint = place_by_hand(checked, root, downloads)
    for archive in pending:
        zip_path, sha256, downloaded = _fetch(archive, downloads, hint)
        try:
            _extract(zip_path, archive, root, sha256)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, DatasetError) as err:
            if downloaded:
                zip_path.unlink(missing_ok=True)
                fate = "it was deleted, so the next run downloads it again"
            else:
                fate = f"delete or replace {zip_path}"
            raise DatasetError(f"Could not extract {zip_path} (from {archive.url}) into {archive.target(root)}: {err} ({fate}).") from err
