"""The run report reads an rmse gate as a ceiling: the slice chart's bound line is labelled
`ceiling` on an axis that reaches past the values, the blessing says what was stayed under, and
the job summary's chart is not cut off at 1. A classification gate keeps its floor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core import config
from pipeline.summary import MetricRow, RunSummary
from report import mermaid
from report.page import Inputs, render
from tests.support import project
from tests.support.repo import update_overlay

RMSE_GATE = {
    "evaluation": {
        "metric": "rmse",
        "lower_bound": None,
        "upper_bound": 3.5,
        "max_regression": 0.01,
    },
    "continuous_training": {"decay_floor": None, "decay_ceiling": 3.7},
}
# The taxi sample's gate, set here so the floor chart is drawn whatever task init configured.
AUC_GATE = {
    "evaluation": {
        "metric": "auc",
        "lower_bound": 0.8,
        "upper_bound": None,
        "max_regression": 0.01,
    },
    "continuous_training": {"decay_floor": 0.78, "decay_ceiling": None},
}


@pytest.fixture
def rmse_cfg(environments: Path, tmp_path: Path):
    update_overlay(environments, "dev", RMSE_GATE)
    return config.load("dev", environments, output_root=str(tmp_path / "run"))


def _summary(metric: str, values: dict[str, float]) -> RunSummary:
    return RunSummary(
        environment="dev",
        pipeline_name="p-dev",
        components=[],
        data_validation="PASS",
        anomalies=[],
        gated_metric=metric,
        blessed=True,
        has_baseline=True,
        overall=MetricRow("overall", {metric: 3.1, "example_count": 900.0}),
        slices=[
            MetricRow(f"kind={k}", {metric: v, "example_count": 100.0}) for k, v in values.items()
        ],
    )


def _texts(page: str) -> list[str]:
    chart = re.search(r'<figure id="slice-chart">(.*?)</figure>', page, re.S)
    assert chart is not None
    return re.findall(r"<text[^>]*>([^<]*)</text>", chart.group(1))


def test_an_rmse_chart_draws_its_ceiling_on_an_axis_past_the_values(rmse_cfg) -> None:
    page = render(Inputs(cfg=rmse_cfg, summary=_summary("rmse", {"a": 2.9, "b": 5.6})))
    texts = _texts(page)
    assert "ceiling 3.5" in texts and not any(t.startswith("floor") for t in texts)
    # The axis runs past the largest error (5.6), not to 1 where the bars would be cut off.
    ticks = [float(t.replace("\u2212", "-")) for t in texts if re.fullmatch(r"[\d.]+", t)]
    assert max(ticks) >= 5


def test_a_blessed_rmse_stayed_under_its_ceiling(rmse_cfg) -> None:
    page = render(Inputs(cfg=rmse_cfg, summary=_summary("rmse", {"a": 2.9})))
    assert "<p>rmse stayed at or under the ceiling 3.5 and worsened by at most 0.01.</p>" in page
    assert "cleared the floor" not in page
    first = _summary("rmse", {"a": 2.9})
    first.has_baseline = False  # nothing released yet: no regression was checked
    page = render(Inputs(cfg=rmse_cfg, summary=first))
    assert "<p>rmse stayed at or under the ceiling 3.5.</p>" in page


def test_an_auc_chart_keeps_its_floor(environments: Path, tmp_path: Path) -> None:
    update_overlay(environments, "dev", AUC_GATE)
    with project.taxi_task():  # AUC is a binary model's metric
        cfg = config.load("dev", environments, output_root=str(tmp_path / "run"))
    page = render(Inputs(cfg=cfg, summary=_summary("auc", {"a": 0.9})))
    texts = _texts(page)
    assert "floor 0.8" in texts and not any(t.startswith("ceiling") for t in texts)
    assert "<p>auc cleared the floor 0.8 and regressed by at most 0.01.</p>" in page
    first = _summary("auc", {"a": 0.9})
    first.has_baseline = False
    assert "<p>auc cleared the floor 0.8 .</p>" in render(Inputs(cfg=cfg, summary=first))


def test_the_job_summary_chart_of_an_rmse_reaches_past_its_largest_value(rmse_cfg) -> None:
    text = mermaid.charts(Inputs(cfg=rmse_cfg, summary=_summary("rmse", {"a": 2.9, "b": 5.6})))
    assert '  y-axis "rmse" 0 --> 6.1600' in text.splitlines()
    undefined = _summary("rmse", {})
    undefined.slices = [MetricRow("kind=a", {"rmse": None}, undefined={"rmse": "no examples"})]
    text = mermaid.charts(Inputs(cfg=rmse_cfg, summary=undefined))
    assert '  y-axis "rmse" 0 --> 1.1000' in text.splitlines()  # nothing drawn: a unit axis
    auc = mermaid.charts(Inputs(cfg=rmse_cfg, summary=_summary("auc", {"a": 0.9})))
    assert '  y-axis "auc" 0 --> 1' in auc.splitlines()
