"""Plots and report rendering shared by every pipeline."""

from neural_pipelines.reporting.filters import convolution_demo_figure, filter_patterns_figure
from neural_pipelines.reporting.plots import learning_curves, lines_by_step
from neural_pipelines.reporting.report import comparison_table, render_block, render_template

__all__ = [
    "comparison_table",
    "convolution_demo_figure",
    "filter_patterns_figure",
    "learning_curves",
    "lines_by_step",
    "render_block",
    "render_template",
]
