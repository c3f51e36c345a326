"""``ensure_extracted`` against small zips served on loopback (no internet involved)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from kedro.io import DatasetError

from neural_pipelines.datasets import archive as archive_module
from neural_pipelines.datasets.archive import ensure_extracted
from tests.datasets.http_server import QuietHandler, serving


def make_zip(members: dict[str, bytes | None]) -> bytes:
    """A zip with the given members (``None``: a folder entry)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zip_file:
        for name, content in members.items():
            if content is None:
                zip_file.writestr(zipfile.ZipInfo(name), b"")
            else:
                zip_file.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), content)
    return buffer.getvalue()


# Like cats_and_dogs_filtered.zip: one top folder holding train/ and validation/, plus a script.
CATS_DOGS = make_zip(
    {
        "cats_and_dogs_filtered/": None,
        "cats_and_dogs_filtered/train/": None,
        "cats_and_dogs_filtered/train/cats/cat.1.jpg": b"cat one",
        "cats_and_dogs_filtered/train/dogs/dog.1.jpg": b"dog one",
        "cats_and_dogs_filtered/validation/cats/cat.2000.jpg": b"cat 2000",
        "cats_and_dogs_filtered/validation/dogs/dog.2000.jpg": b"dog 2000",
        "cats_and_dogs_filtered/vectorize.py": b"print('hi')\n",
        "__MACOSX/cats_and_dogs_filtered/train/cats/._cat.1.jpg": b"resource fork",
    }
)
# Like horse-or-human.zip: the class folders at the zip's root.
HORSES = make_zip({"horses/horse01-0.png": b"horse", "humans/human01-00.png": b"human"})
SLIP = make_zip({"horses/horse01-0.png": b"horse", "horses/../../../evil.txt": b"gotcha"})
FILES = {"/cats_and_dogs_filtered.zip": CATS_DOGS, "/horse-or-human.zip": HORSES, "/slip.zip": SLIP}


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class Handler(QuietHandler):
    requests: ClassVar[list[str]] = []
    truncate: ClassVar[set[str]] = set()  # paths served half, then hung up on

    def do_GET(self) -> None:
        Handler.requests.append(self.path)
        content = FILES.get(self.path)
        if content is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.path in Handler.truncate:
            self.wfile.write(content[: len(content) // 2])
            self.close_connection = True
        else:
            self.wfile.write(content)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


@pytest.fixture(autouse=True)
def fresh_handler() -> None:
    Handler.requests.clear()
    Handler.truncate.clear()


def closed_port_url(name: str) -> str:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included), relative path -> content."""
    if not folder.exists():
        return {}
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def horse_archive(server: str, **overrides: object) -> dict:
    return {"url": f"{server}/horse-or-human.zip", "sha256": sha(HORSES), "extract_to": "train", "timeout": 5, **overrides}


def test_a_good_zip_extracts_into_split_class_folders_with_the_prefix_dropped(server: str, tmp_path: Path) -> None:
    root, downloads = tmp_path / "vgg16_finetune", tmp_path / "downloads"
    archives = [
        {
            "url": f"{server}/cats_and_dogs_filtered.zip",
            "sha256": sha(CATS_DOGS),
            "extract_to": "",
            "strip_prefix": "cats_and_dogs_filtered/",
        }
    ]
    ensure_extracted(archives, root, downloads)

    marker = ".extracted-cats_and_dogs_filtered.zip.json"
    assert files_under(root).keys() == {
        "train/cats/cat.1.jpg",
        "train/dogs/dog.1.jpg",
        "validation/cats/cat.2000.jpg",
        "validation/dogs/dog.2000.jpg",
        "vectorize.py",
        marker,
    }  # no cats_and_dogs_filtered/ level, no __MACOSX/
    assert (root / "validation/dogs/dog.2000.jpg").read_bytes() == b"dog 2000"
    assert json.loads((root / marker).read_text()) == {
        "url": f"{server}/cats_and_dogs_filtered.zip",
        "sha256": sha(CATS_DOGS),
        "strip_prefix": "cats_and_dogs_filtered/",
        "files": 5,
        "entries": ["train", "validation", "vectorize.py"],
    }
    assert files_under(downloads) == {"cats_and_dogs_filtered.zip": CATS_DOGS}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["downloads", "vgg16_finetune"]  # no temporary folder left


def test_two_archives_fill_two_splits_and_a_second_call_downloads_nothing(server: str, tmp_path: Path) -> None:
    root, downloads = tmp_path / "horse_or_human", tmp_path / "downloads"
    archives = [horse_archive(server), horse_archive(server, extract_to="validation", filename="validation-horse-or-human.zip")]
    ensure_extracted(archives, root, downloads)
    assert Handler.requests == ["/horse-or-human.zip", "/horse-or-human.zip"]
    expected = {"horses/horse01-0.png": b"horse", "humans/human01-00.png": b"human"}
    for split, zip_name in (("train", "horse-or-human.zip"), ("validation", "validation-horse-or-human.zip")):
        extracted = files_under(root / split)
        assert json.loads(extracted.pop(f".extracted-{zip_name}.json"))["files"] == 2
        assert extracted == expected

    ensure_extracted(archives, root, downloads)
    ensure_extracted(archives, root, downloads)
    assert len(Handler.requests) == 2  # both markers in place: no request at all

    shutil.rmtree(root / "validation" / "humans")  # a class folder deleted by hand: extracted again, from the kept zip
    ensure_extracted(archives, root, downloads)
    assert (root / "validation/humans/human01-00.png").read_bytes() == b"human"
    assert len(Handler.requests) == 2


def test_a_checksum_mismatch_leaves_neither_zip_nor_folder(server: str, tmp_path: Path) -> None:
    root, downloads = tmp_path / "horse_or_human", tmp_path / "downloads"
    with pytest.raises(DatasetError, match=f"downloaded with sha256 {sha(HORSES)}, expected {'0' * 64}; nothing was kept"):
        ensure_extracted([horse_archive(server, sha256="0" * 64)], root, downloads)
    assert files_under(downloads) == {}
    assert not root.exists()


def test_an_interrupted_download_leaves_nothing_trusted_and_a_rerun_recovers(server: str, tmp_path: Path) -> None:
    root, downloads = tmp_path / "horse_or_human", tmp_path / "downloads"
    Handler.truncate.add("/horse-or-human.zip")
    with pytest.raises(DatasetError, match=r"Could not download .*horse-or-human\.zip: connection closed after \d+ of \d+ bytes"):
        ensure_extracted([horse_archive(server, sha256=None)], root, downloads)
    assert files_under(downloads) == {}  # no .part, no zip
    assert files_under(root) == {}

    Handler.truncate.clear()
    ensure_extracted([horse_archive(server, sha256=None)], root, downloads)
    assert (root / "train/horses/horse01-0.png").read_bytes() == b"horse"
    assert files_under(downloads) == {"horse-or-human.zip": HORSES}
    assert Handler.requests == ["/horse-or-human.zip", "/horse-or-human.zip"]


def test_an_interrupted_extraction_is_redone_from_the_downloaded_zip(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, downloads = tmp_path / "horse_or_human", tmp_path / "downloads"

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # the process dies after the move, before the marker

    monkeypatch.setattr(archive_module, "_write_marker", crash)
    with pytest.raises(KeyboardInterrupt):
        ensure_extracted([horse_archive(server)], root, downloads)
    (root / "train/horses/horse01-0.png").write_bytes(b"half-writ")  # what a crash mid-copy could leave
    (root / ".train.partial-x1y2").mkdir()  # and a temporary folder of a killed run
    (root / ".train.partial-x1y2" / "junk.png").write_bytes(b"junk")
    monkeypatch.undo()

    ensure_extracted([horse_archive(server)], root, downloads)
    assert files_under(root / "train").keys() == {"horses/horse01-0.png", "humans/human01-00.png", ".extracted-horse-or-human.zip.json"}
    assert (root / "train/horses/horse01-0.png").read_bytes() == b"horse"
    assert sorted(path.name for path in root.iterdir()) == ["train"]
    assert Handler.requests == ["/horse-or-human.zip"]  # the complete, checked zip was reused


def test_a_zip_slip_member_is_refused_and_nothing_is_written(server: str, tmp_path: Path) -> None:
    root, downloads = tmp_path / "data" / "horse_or_human", tmp_path / "data" / "downloads"
    with pytest.raises(
        DatasetError, match=r"1 member\(s\) that would be written outside the target folder \('horses/\.\./\.\./\.\./evil\.txt'\)"
    ) as error:
        ensure_extracted([horse_archive(server, url=f"{server}/slip.zip", sha256=sha(SLIP))], root, downloads)
    assert "it was deleted, so the next run downloads it again" in str(error.value)
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []  # no evil.txt anywhere, no zip kept
    assert not (root / "train").exists()


def test_no_sha256_logs_the_computed_digest(server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        ensure_extracted([horse_archive(server, sha256=None)], tmp_path / "root", tmp_path / "downloads")
    assert f"downloaded file's sha256 is {sha(HORSES)}" in caplog.text


def test_a_zip_placed_by_hand_is_checked_and_extracted_without_network(tmp_path: Path) -> None:
    root, downloads = tmp_path / "horse_or_human", tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "horse-or-human.zip").write_bytes(HORSES)
    ensure_extracted([horse_archive("http://127.0.0.1:9", url=closed_port_url("horse-or-human.zip"))], root, downloads)
    assert (root / "train/humans/human01-00.png").read_bytes() == b"human"

    (downloads / "other.zip").write_bytes(b"not the zip")
    with pytest.raises(DatasetError, match=f"other.zip has sha256 {sha(b'not the zip')}, expected {sha(HORSES)}: delete it"):
        ensure_extracted([horse_archive("", url=closed_port_url("other.zip"), extract_to="validation")], root, downloads)
    assert not (root / "validation").exists()


def test_a_wrong_strip_prefix_names_the_real_top_level(server: str, tmp_path: Path) -> None:
    archives = [{"url": f"{server}/cats_and_dogs_filtered.zip", "sha256": sha(CATS_DOGS), "strip_prefix": "cats_and_dogs"}]
    with pytest.raises(
        DatasetError,
        match=r"no files under strip_prefix 'cats_and_dogs/'; its top-level entries are \['__MACOSX', 'cats_and_dogs_filtered'\]",
    ):
        ensure_extracted(archives, tmp_path / "root", tmp_path / "downloads")
    assert files_under(tmp_path) == {}


def test_offline_fails_fast_listing_every_url_and_folder(tmp_path: Path) -> None:
    root, downloads = tmp_path / "horse_or_human", tmp_path / "downloads"
    train_url, validation_url = closed_port_url("horse-or-human.zip"), closed_port_url("validation-horse-or-human.zip")
    archives = [
        {"url": train_url, "sha256": None, "extract_to": "train", "contents": "horses/, humans/"},
        {"url": validation_url, "sha256": "ab" * 32, "extract_to": "validation", "contents": "horses/, humans/"},
    ]
    started = time.perf_counter()
    with pytest.raises(DatasetError) as error:
        ensure_extracted(archives, root, downloads)
    assert time.perf_counter() - started < 3
    message = str(error.value)
    assert f"Could not download {train_url}: <urlopen error [Errno 111] Connection refused>" in message
    assert f"  {train_url} -> {downloads / 'horse-or-human.zip'}  (sha256 not pinned)" in message
    assert f"  {validation_url} -> {downloads / 'validation-horse-or-human.zip'}  (sha256 {'ab' * 32})" in message
    assert f"  {root / 'train'}/  <- the top level of horse-or-human.zip: horses/, humans/" in message
    assert f"  {root / 'validation'}/  <- the top level of validation-horse-or-human.zip: horses/, humans/" in message
    assert files_under(tmp_path) == {}


def test_bad_archive_entries_are_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"unknown keys \['extract-to'\]"):
        ensure_extracted([{"url": "http://127.0.0.1:9/a.zip", "extract-to": "train"}], tmp_path, tmp_path)
    with pytest.raises(DatasetError, match=r"extract_to '\.\./elsewhere' must be a folder inside"):
        ensure_extracted([{"url": "http://127.0.0.1:9/a.zip", "extract_to": "../elsewhere"}], tmp_path, tmp_path)


def test_a_server_that_never_answers_or_a_hanging_name_lookup_fails_within_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never sends a byte
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/horse-or-human.zip"
        started = time.perf_counter()
        with pytest.raises(DatasetError, match=f"Could not download {url}: timed out"):
            ensure_extracted([{"url": url, "extract_to": "train", "timeout": 0.5}], tmp_path / "root", tmp_path / "downloads")
        assert 0.4 < time.perf_counter() - started < 1.5

    def hanging_lookup(*args: object, **kwargs: object) -> None:
        time.sleep(4)  # a resolver that does not answer: socket timeouts do not cover this
        raise socket.gaierror("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    started = time.perf_counter()
    with pytest.raises(DatasetError, match=r"Could not download http://datasets\.invalid/a\.zip: no answer within 0.5 s"):
        ensure_extracted([{"url": "http://datasets.invalid/a.zip", "timeout": 0.5}], tmp_path / "root", tmp_path / "downloads")
    assert time.perf_counter() - started < 2
    assert files_under(tmp_path) == {}


def test_image_folder_dataset_lists_the_extracted_images_not_the_marker(server: str, tmp_path: Path) -> None:
    from neural_pipelines.datasets import ImageFolderDataset

    root = tmp_path / "01_raw" / "vgg16_finetune"
    archives = [{"url": f"{server}/cats_and_dogs_filtered.zip", "sha256": sha(CATS_DOGS), "strip_prefix": "cats_and_dogs_filtered/"}]
    frame = ImageFolderDataset(str(root), archives=archives).load()
    assert frame[["split", "class_name"]].to_numpy().tolist() == [
        ["train", "cats"],
        ["train", "dogs"],
        ["validation", "cats"],
        ["validation", "dogs"],
    ]
    assert frame["filepath"].tolist() == [
        str(root / "train/cats/cat.1.jpg"),
        str(root / "train/dogs/dog.1.jpg"),
        str(root / "validation/cats/cat.2000.jpg"),
        str(root / "validation/dogs/dog.2000.jpg"),
    ]
    assert (tmp_path / "01_raw" / "downloads" / "cats_and_dogs_filtered.zip").read_bytes() == CATS_DOGS
    with pytest.raises(DatasetError, match="read-only"):
        ImageFolderDataset(str(root), archives=archives).save({"train/cats/x.png": None})


def test_the_full_env_reads_downloads_outside_the_folders_the_generator_writes() -> None:
    from kedro.config import OmegaConfigLoader

    conf = Path(__file__).resolve().parents[2] / "conf"
    catalog = OmegaConfigLoader(str(conf), base_env="base", default_run_env="full")["catalog"]
    expected = {
        "horse_or_human.raw_images@folder": ("data/01_raw/horse_or_human", ["train", "validation"]),
        "vgg16_finetune.raw_images@folder": ("data/01_raw/vgg16_finetune", [""]),
    }
    for name, (path, extract_to) in expected.items():
        entry = catalog[name]
        assert (entry["path"], [archive["extract_to"] for archive in entry["archives"]]) == (path, extract_to)
        assert all(archive["url"].startswith("https://storage.googleapis.com/") for archive in entry["archives"])
        assert entry["metadata"]["data_source"] == "download"
    generated = [entry["path"] for name, entry in catalog.items() if name.endswith("@generated")]
    downloaded = [entry["path"] for entry in catalog.values() if isinstance(entry, dict) and entry.get("archives")]
    assert not any(Path(one).is_relative_to(other) or Path(other).is_relative_to(one) for one in generated for other in downloaded)
    assert catalog["vgg16_finetune.new_images@folder"]["path"] == "data/01_raw/vgg16_finetune/new_images"
