"""A self-contained HTML report: tables and figures inline, so one file tells the whole story.

Versioned Kedro outputs live in separate timestamped folders, so relative links between a
report and its figures would break; embedding the PNGs avoids that, and the same file
renders in a browser and in the MLflow UI's artifact view.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure


def comparison_table(rows: Mapping[str, Mapping[str, Any]], columns: Sequence[str], sort_by: str | None = None) -> pd.DataFrame:
    """One row per model with the given metric columns (missing values left empty)."""
    table = pd.DataFrame.from_dict({name: {column: row.get(column) for column in columns} for name, row in rows.items()}, orient="index")
    table.index.name = "model"
    table = table.reset_index()
    return table.sort_values(sort_by, kind="stable").reset_index(drop=True) if sort_by else table


def figure_to_html(figure: Figure, alt: str) -> str:
    """An ``<img>`` tag with the figure embedded as a base64 PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}" style="max-width:100%">'


class HtmlReport:
    """Builds an HTML report section by section: headings, paragraphs, tables, figures."""

    def __init__(self, title: str) -> None:
        self._title = title
        self._parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]

    def heading(self, text: str) -> HtmlReport:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")
        return self

    def paragraph(self, text: str) -> HtmlReport:
        self._parts.append(f"<p>{html.escape(text)}</p>")
        return self

    def bullets(self, items: Sequence[str]) -> HtmlReport:
        self._parts.append("<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>")
        return self

    def table(self, frame: pd.DataFrame, float_format: str = "{:.4g}") -> HtmlReport:
        self._parts.append(frame.to_html(index=False, float_format=float_format.format, border=0, classes="table"))
        return self

    def figure(self, figure: Figure, caption: str) -> HtmlReport:
        self._parts.append(f"<figure>{figure_to_html(figure, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>")
        return self

    def render(self) -> str:
        style = (
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}"
            "th:first-child,td:first-child{text-align:left}figcaption{color:#555;font-size:.9em}"
        )
        body = "\n".join(self._parts)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self._title)}</title>'
            f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"
        )
