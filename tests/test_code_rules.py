"""Rules for the project's own files that no linter checks: every ``noqa`` says why, and no file
points at documents that live outside this repository."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import PROJECT_ROOT

#: A noqa comment whose codes are followed by nothing: a suppression nobody explained.
BARE_NOQA = re.compile(r"#\s*noqa(:\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*)?\s*$")
#: References to the developers' shared folder or its design document, which users never get.
OUTSIDE_DOCUMENTS = re.compile(r"\.\./shared|DESIGN\.md|STYLE\.md|\.\./course")


def tracked_files(*patterns: str) -> list[str]:
    result = subprocess.run(["git", "ls-files", *patterns], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return [name for name in result.stdout.splitlines() if (PROJECT_ROOT / name).is_file()]


def test_every_noqa_carries_its_reason_on_the_same_line() -> None:
    bare = [
        f"{name}:{number}"
        for name in tracked_files("*.py")
        for number, line in enumerate((PROJECT_ROOT / name).read_text().splitlines(), start=1)
        if BARE_NOQA.search(line)
    ]
    assert bare == []


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    this_file = "tests/test_code_rules.py"
    offending = [
        f"{name}:{number}"
        for name in tracked_files()
        if name != this_file and not name.endswith((".lock", ".png"))
        for number, line in enumerate((PROJECT_ROOT / name).read_text(errors="replace").splitlines(), start=1)
        if OUTSIDE_DOCUMENTS.search(line)
    ]
    assert offending == []


def test_the_checks_recognise_what_they_forbid() -> None:
    assert BARE_NOQA.search("x = 1  # noqa: E731")
    assert BARE_NOQA.search("def f(  # noqa: PLR0913, PLR0917")
    assert not BARE_NOQA.search("def f(  # noqa: PLR0913 (every size is a parameter)")
    assert OUTSIDE_DOCUMENTS.search("see ../shared/notes")
    assert not OUTSIDE_DOCUMENTS.search("see docs/house_prices.md")
