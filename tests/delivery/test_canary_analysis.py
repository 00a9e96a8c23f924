"""`mlops analyze` without Prometheus: how each measurement is judged, and the exit statuses
when there is nothing to ask (the real-Prometheus cases are test_canary_analysis_prometheus)."""

from __future__ import annotations

import pytest

from core import config
from delivery import analysis_queries
from delivery.canary_analysis import FAIL, INCONCLUSIVE, PASS, Analysis, Measurement
from mlops import cli


def _measured(env: str, **values: float | None) -> Analysis:
    cfg = config.load(env)
    return Analysis(
        env, [Measurement(q, values.get(q.name)) for q in analysis_queries.queries(cfg)]
    )


def test_each_query_selects_the_candidate_of_the_environment() -> None:
    cfg = config.load("prod")
    for q in analysis_queries.queries(cfg):
        assert 'role="canary"' in q.promql
        assert f'namespace="{cfg.deploy.namespace}"' in q.promql
        assert f'model_name="{cfg.model_name}"' in q.promql
        assert "[300s]" in q.promql


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        ({"request-count": 500, "error-ratio": 0.0, "latency-p99": 20.0}, PASS),
        ({"request-count": 500, "error-ratio": 0.011, "latency-p99": 20.0}, FAIL),
        ({"request-count": 500, "error-ratio": 0.0, "latency-p99": 101.0}, FAIL),
        ({"request-count": 99, "error-ratio": 0.0, "latency-p99": 20.0}, INCONCLUSIVE),
        ({"request-count": 99, "error-ratio": 0.5, "latency-p99": 900.0}, INCONCLUSIVE),
        ({"request-count": 500, "error-ratio": None, "latency-p99": 20.0}, INCONCLUSIVE),
        ({"request-count": 500, "error-ratio": 0.0, "latency-p99": float("nan")}, INCONCLUSIVE),
        ({"request-count": 100, "error-ratio": 0.01, "latency-p99": 100.0}, PASS),
    ],
)
def test_verdicts_at_and_around_the_thresholds(values: dict, verdict: str) -> None:
    """prod: at least 100 requests, error ratio <= 0.01, p99 <= the load test's 100 ms."""
    assert _measured("prod", **values).verdict == verdict


def test_a_failure_names_the_metric_its_value_and_what_to_do() -> None:
    analysis = _measured("prod", **{"request-count": 500, "error-ratio": 0.05, "latency-p99": 3})
    reason = analysis.reason()
    assert "error-ratio 0.05 is above 0.01" in reason
    assert "mlops rollback --env prod" in reason


def test_no_prometheus_is_infrastructure_not_a_verdict(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["analyze", "--env", "prod", "--prometheus", "http://127.0.0.1:9"]) == 3
    err = capsys.readouterr().err
    assert "--prometheus http://127.0.0.1:9: no Prometheus answered" in err
    assert "Traceback" not in err


def test_a_url_without_a_scheme_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["analyze", "--env", "prod", "--prometheus", "127.0.0.1:9090"]) == 2
    assert "expected an http:// or https:// URL" in capsys.readouterr().err


def _answers(monkeypatch: pytest.MonkeyPatch, **values: float | None) -> None:
    """Prometheus's answers per query, by the metric's name."""
    from delivery import canary_analysis

    by_promql = {q.promql: q.name for q in analysis_queries.queries(config.load("staging"))}

    def answer(_url: str, promql: str, timeout: float = 10.0) -> float | None:
        return values[by_promql[promql]]

    monkeypatch.setattr(canary_analysis, "instant_query", answer)


def test_record_puts_the_verdict_beside_the_load_test_and_gates_prod(
    repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A failed shadow in staging is recorded, and staging's release goes no further."""
    from core.verdicts import Rule, Verdict
    from delivery.rules import PromotionRefused
    from store import release as rel

    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    repo.delivery.promote("dev", "staging")
    repo.pass_loadtest("staging")
    _answers(monkeypatch, **{"request-count": 800.0, "error-ratio": 0.04, "latency-p99": 30.0})
    argv = ["--environments", str(repo.environments), "analyze", "--env", "staging"]
    assert cli.main([*argv, "--prometheus", "http://prom.test:9090", "--record"]) == 1
    assert "Recorded FAIL in environments/staging/release.yaml" in capsys.readouterr().out
    current = repo.current("staging")
    assert current.loadtest.verdict == Verdict.PASS
    assert (current.analysis.verdict, current.analysis.strategy) == (Verdict.FAIL, "shadow")
    assert (current.analysis.requests, current.analysis.error_ratio) == (800.0, 0.04)
    with pytest.raises(PromotionRefused) as refused:
        repo.delivery.promote("staging", "prod")
    assert refused.value.rule == Rule.ANALYSIS_PASSED
    assert rel.read(repo.environments, "prod") is None  # nothing written

    _answers(monkeypatch, **{"request-count": 800.0, "error-ratio": 0.0, "latency-p99": 30.0})
    assert cli.main([*argv, "--prometheus", "http://prom.test:9090", "--record"]) == 0
    prod = repo.delivery.promote("staging", "prod").current
    assert prod.analysis.verdict == Verdict.NONE  # prod's canary has not judged it yet
    assert "analysis:" not in (repo.environments / "prod" / "release.yaml").read_text()
    assert "verdict: PASS" in (repo.environments / "staging" / "release.yaml").read_text()
