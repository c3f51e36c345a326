"""Input validation shared by every ingest node: errors that name the file, the field and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class DataValidationError(ValueError):
    """Bad input data. The message names the file, the field, the problem and the fix."""

    def __init__(self, source: str, field: str, problem: str, fix: str) -> None:
        self.source, self.field, self.problem, self.fix = source, field, problem, fix
        super().__init__(f"{source}: column '{field}': {problem}. Fix: {fix}")


def source_of(frame: Any, default: str = "input data") -> str:
    """The file a loaded table came from (set by ``DataSourceHook``), for error messages."""
    return str(getattr(frame, "attrs", {}).get("source", default))


def examples(rows: Iterable[Any], values: Iterable[Any] | None = None, limit: int = 5, noun: str = "rows") -> str:
    """``rows 3, 7 (values 'abc', 'x')`` for the first few offending rows, to quote in an error."""
    rows = list(rows)
    shown = ", ".join(str(row) for row in rows[:limit]) + (f" … ({len(rows)} in all)" if len(rows) > limit else "")
    if values is None:
        return f"{noun} {shown}"
    values = list(values)[:limit]
    return f"{noun} {shown} (values {', '.join(repr(value) for value in values)})"
