"""Plots and report rendering shared by every pipeline."""

from neural_pipelines.reporting.plots import learning_curves, lines_by_step
from neural_pipelines.reporting.report import HtmlReport, comparison_table

__all__ = ["HtmlReport", "comparison_table", "learning_curves", "lines_by_step"]
