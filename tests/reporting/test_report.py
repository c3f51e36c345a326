"""Report rendering: the filters, strict and escaped templates, and sentences that follow the numbers and parameters."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml
from jinja2 import UndefinedError

from neural_pipelines.pipelines.traffic_lstm import nodes as traffic_nodes
from neural_pipelines.reporting import render_block, render_template
from neural_pipelines.reporting.report import dollars, fmt, percent, template_environment, thousands

CONF = Path(__file__).resolve().parents[2] / "conf"
#: Each experiment's report parameters: the block name in conf/<env>/parameters_<pipeline>.yml.
REPORT_BLOCKS = {
    "traffic_lstm": "reporting",
    "traffic_lstm_tune": "reporting",
    "image_cnn": "reporting",
    "house_prices": "report",
    "horse_or_human": "reporting",
    "vgg16_finetune": "reporting",
    "fundamentals": "report",
}
TRAFFIC_REPORTING = {
    "title": "traffic forecast",
    "data_note": "Hourly I-94 traffic.",
    "course_results": {"dense": "2.17e-2", "lstm": "1.91e-2"},
    "naive_reference": "seasonal_naive_168h",
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def report_parameters(pipeline: str, env: str = "base") -> dict:
    """The report block of ``conf/<env>/parameters_<pipeline>.yml`` ({} when the file or block is absent)."""
    path = CONF / env / f"parameters_{pipeline}.yml"
    if not path.exists():
        return {}
    return (yaml.safe_load(path.read_text())[pipeline] or {}).get(REPORT_BLOCKS[pipeline], {})


# --- filters ------------------------------------------------------------------------


def test_number_filters_read_as_the_report_writes_them() -> None:
    assert percent(0.97312) == "97.31%" and percent(0.2, 0) == "20%" and percent(0.9876, 1) == "98.8%"
    assert dollars(19876.4) == "$19,876" and thousands(1413834) == "1,413,834"
    assert fmt(0.0123456, ".4g") == "0.01235" and fmt(np.float64(2.5), ".0f") == "2"
    assert set(template_environment().filters) >= {"figure", "table", "fmt", "percent", "dollars", "thousands"}


def test_figure_and_table_filters_embed_and_escape() -> None:
    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    frame = pd.DataFrame({"model": ["<b>lstm</b>"], "test_mse": [0.0123456]})
    html = (
        template_environment()
        .from_string("{{ figure | figure(caption) }}{{ frame | table }}")
        .render(figure=figure, caption="MSE < 1 & falling", frame=frame)
    )
    assert html.startswith('<figure><img alt="MSE &lt; 1 &amp; falling" src="data:image/png;base64,')
    assert "<figcaption>MSE &lt; 1 &amp; falling</figcaption></figure>" in html
    assert "<td>0.01235</td>" in html and "&lt;b&gt;lstm&lt;/b&gt;" in html and "<b>" not in html


# --- templates: strict, escaped, shipped --------------------------------------------


def test_a_value_missing_from_the_context_stops_the_rendering() -> None:
    with pytest.raises(UndefinedError, match="base_weights"):
        render_template("vgg16_finetune.html.j2", reporting=report_parameters("vgg16_finetune"))
    with pytest.raises(UndefinedError, match="reporting"):
        render_block("traffic_lstm.html.j2", "title", preprocessing={"history_hours": 6, "horizon_hours": 24})
    with pytest.raises(UndefinedError, match="data_note"):
        render_block("traffic_lstm.html.j2", "data", reporting={"title": "x"}, preprocessing={}, data={})


def test_values_are_escaped_in_the_text() -> None:
    title = render_block("image_cnn.html.j2", "title", reporting={"title": "<script>alert(1)</script> & CNNs"})
    assert title == "image_cnn: &lt;script&gt;alert(1)&lt;/script&gt; &amp; CNNs"


def test_every_report_extends_the_base_layout() -> None:
    environment = template_environment()
    # registry.html.j2 is a section, added to every registering experiment's report (registry.add_registry_section)
    assert set(environment.list_templates()) == {"base.html.j2", "registry.html.j2", *(f"{pipeline}.html.j2" for pipeline in REPORT_BLOCKS)}
    for pipeline in REPORT_BLOCKS:
        source = environment.loader.get_source(environment, f"{pipeline}.html.j2")[0]
        assert '{% extends "base.html.j2" %}' in source


@pytest.mark.parametrize("pipeline", REPORT_BLOCKS)
def test_every_report_block_has_a_title_and_a_data_note_and_overrides_only_known_keys(pipeline: str) -> None:
    base = report_parameters(pipeline)
    assert base["title"] and base["data_note"]
    for env in ("test", "full"):
        assert set(report_parameters(pipeline, env)) <= set(base), f"conf/{env} overrides a key conf/base does not define"


# --- sentences that follow the numbers and the parameters ---------------------------


def traffic_report(network_mae: float, baseline_mae: float, history_hours: int = 6, layout: str = "recurrent") -> str:
    """traffic_lstm's report for one network and the naive week on a tiny series, ``history_hours`` of input."""
    hours = pd.date_range("2024-01-01", periods=40, freq="h")
    scaled = pd.DataFrame(
        {
            "datetime": hours,
            "traffic_volume": np.arange(40.0),
            "imputed": [False] * 39 + [True],
            "split": pd.Categorical(["train"] * 24 + ["validation"] * 8 + ["test"] * 8, categories=traffic_nodes.SPLITS),
        }
    )
    windows = {f"y_{split}": np.zeros((count, 24)) for split, count in (("train", 5), ("validation", 2), ("test", 3))}
    windows["x_test"] = np.zeros((3, history_hours, 1))
    comparison = pd.DataFrame(
        {
            "model": ["lstm", "seasonal_naive_168h"],
            "trained": [True, False],
            "n_params": [100, 0],
            "test_mae": [network_mae, baseline_mae],
            "test_rmse": [network_mae * 2, baseline_mae * 2],
            "epochs_run": [3, 0],
        }
    ).sort_values("test_mae")
    figure, _ = plt.subplots()
    figures = dict.fromkeys(("learning_curves", "mae_by_horizon", "test_week"), figure)
    preprocessing = {
        "history_hours": history_hours,
        "horizon_hours": 24,
        "test_fraction": 0.2,
        "max_fill_gap_hours": 3,
        "window_layout": layout,
    }
    return traffic_nodes.render_report(comparison, figures, scaled, windows, preprocessing, TRAFFIC_REPORTING)


def test_traffic_verdict_says_whether_the_best_model_beats_the_naive_week_and_by_how_much() -> None:
    losing = traffic_report(network_mae=300.0, baseline_mae=250.0)
    assert "The best model, <b>lstm</b>, does not beat seasonal_naive_168h" in losing
    assert "MAE 300.0 vs 250.0 vehicles/hour, 20.0% higher; RMSE 600.0 vs 500.0 vehicles/hour, 20.0% higher" in losing
    assert "it sees only the last 6 hours, so it cannot tell a Saturday morning from a Monday morning" in losing
    winning = traffic_report(network_mae=200.0, baseline_mae=250.0)
    assert "The best model, <b>lstm</b>, beats seasonal_naive_168h" in winning and "20.0% lower" in winning
    assert "does not beat" not in winning


def test_traffic_text_follows_the_parameters() -> None:
    html = traffic_report(network_mae=300.0, baseline_mae=250.0, history_hours=12)
    assert "<title>traffic_lstm: 24-hour traffic forecast</title>" in html
    assert "<h1>traffic_lstm: 24-hour traffic forecast</h1>" in html
    assert "it sees only the last 12 hours" in html
    assert "inputs are (12 timesteps, 1 feature), so SimpleRNN and LSTM step through the 12 hours" in html
    assert "The course used (1 timestep, 12 features)" in html and "6 features" not in html
    assert "comparable with the course's 2.17e-2 dense, 1.91e-2 lstm)" in html  # course_results from the parameters
    assert "<li>Hourly I-94 traffic.</li>" in html
    assert "test (last 20%) 8 h" in html and "Missing hours: 1 filled by linear interpolation (gaps of at most 3 h)" in html
    assert "Windows: train 5, validation 2, test 3; input shape (12, 1)." in html
    assert "Forecasts issued at midnight for the next 24 hours" in html
    course_layout = traffic_report(network_mae=300.0, baseline_mae=250.0, history_hours=12, layout="course")
    assert "window_layout=course: inputs are (1 timestep, 12 features) as in the course" in course_layout
    assert "window_layout: recurrent feeds (12, 1)" in course_layout


def test_house_prices_verdict_checks_the_target() -> None:
    report = {"target_mae": 20000, "course_mae": 30000}

    def verdict(test_mae: float) -> str:
        target_model = {"name": "mlp", "test_mae": test_mae, "below_target": test_mae < report["target_mae"]}
        return render_block("house_prices.html.j2", "verdict", report=report, best="mlp", best_mae=test_mae, target_model=target_model)

    assert "mlp: test MAE $18,500, below the $20,000 target (the course reported about $30,000 on its dev set)." in verdict(18500.0)
    assert "mlp: test MAE $21,000, NOT below the $20,000 target" in verdict(21000.0)
    without = render_block("house_prices.html.j2", "verdict", report=report, best="linear", best_mae=25000.0, target_model=None)
    assert "Best model by test MAE: linear ($25,000)." in without and "target" not in without


def test_the_base_parameters_fill_every_title() -> None:
    titles = {
        "image_cnn": render_block("image_cnn.html.j2", "title", reporting=report_parameters("image_cnn")),
        "house_prices": render_block("house_prices.html.j2", "title", report=report_parameters("house_prices")),
        "horse_or_human": render_block("horse_or_human.html.j2", "title", reporting=report_parameters("horse_or_human")),
        "vgg16_finetune": render_block("vgg16_finetune.html.j2", "title", reporting=report_parameters("vgg16_finetune")),
    }
    assert titles["house_prices"] == "house_prices: Ames sale prices — MLPs vs the course&#39;s recipe and baselines"
    assert titles["vgg16_finetune"] == "vgg16_finetune: transfer learning with VGG16 and MobileNetV2"
    assert all(title.startswith(f"{pipeline}: ") for pipeline, title in titles.items())
