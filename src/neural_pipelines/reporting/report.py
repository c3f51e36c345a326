"""Self-contained HTML reports rendered from Jinja2 templates: tables and figures inline.

Versioned Kedro outputs live in separate timestamped folders, so relative links between a
report and its figures would break; embedding the PNGs avoids that, and the same file
renders in a browser and in the MLflow UI's artifact view.

Python computes the numbers, tables and figures; every sentence lives in a template under
``reporting/templates/``: ``base.html.j2`` is the layout all reports share, and each
experiment's ``<pipeline>.html.j2`` fills its sections. The filters registered here keep the
templates readable: ``figure`` (a Figure with its caption), ``table`` (a DataFrame),
``fmt`` (any format spec), ``percent``, ``dollars`` and ``thousands``.
"""

from __future__ import annotations

import base64
import functools
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup, escape
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


# --- filters: what templates write after a "|" ---------------------------------------


def figure_filter(figure: Figure, caption: str) -> Markup:
    """``{{ figure | figure("caption") }}``: the embedded figure with its caption (also its alt text)."""
    text = escape(caption).unescape()  # plain text whether the caption arrives escaped (Markup) or not
    return Markup(f"<figure>{figure_to_html(figure, text)}<figcaption>{escape(text)}</figcaption></figure>")


def table_filter(frame: pd.DataFrame, float_format: str = "{:.4g}") -> Markup:
    """``{{ frame | table }}``: the DataFrame as an HTML table, cells escaped, floats to 4 significant digits."""
    return Markup(frame.to_html(index=False, float_format=float_format.format, border=0, classes="table"))


def fmt(value: Any, spec: str) -> str:
    """``{{ mse | fmt(".4g") }}``: ``value`` in any Python format spec."""
    return format(value, spec)


def percent(fraction: float, digits: int = 2) -> str:
    """``{{ 0.9731 | percent }}`` → ``97.31%``; ``percent(0)`` → ``97%``."""
    return format(fraction, f".{digits}%")


def dollars(value: float) -> str:
    """``{{ 19876.4 | dollars }}`` → ``$19,876``."""
    return f"${value:,.0f}"


def thousands(value: float) -> str:
    """``{{ 1413834 | thousands }}`` → ``1,413,834``."""
    return f"{value:,.0f}"


FILTERS = {"figure": figure_filter, "table": table_filter, "fmt": fmt, "percent": percent, "dollars": dollars, "thousands": thousands}


# --- rendering ----------------------------------------------------------------------


@functools.cache
def template_environment() -> Environment:
    """The Jinja2 environment of the report templates shipped in this package.

    Autoescape: values such as model names or file paths can never inject markup.
    ``StrictUndefined``: a value the template names but the context lacks stops the run
    instead of leaving a gap in a sentence. ``trim_blocks``/``lstrip_blocks``: ``{% %}``
    lines leave no blank lines behind.
    """
    environment = Environment(
        loader=PackageLoader("neural_pipelines.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(FILTERS)
    return environment


def _template(name: str) -> Template:
    """The template file ``name`` from ``reporting/templates/``, loaded once and cached by Jinja2."""
    return template_environment().get_template(name)


def render_template(template: str, **context: Any) -> str:
    """The HTML of the report template ``template`` (e.g. ``"traffic_lstm.html.j2"``) filled with ``context``.

    Raises ``jinja2.UndefinedError`` when the template uses a value ``context`` does not give.
    """
    return _template(template).render(**context)


def render_block(template: str, block: str, **context: Any) -> str:
    """One block (report section) of ``template``, rendered alone.

    Lets a test check one section's sentences against the few values that section reads,
    without building every figure of the report.
    """
    loaded = _template(template)
    return "".join(loaded.blocks[block](loaded.new_context(context)))
