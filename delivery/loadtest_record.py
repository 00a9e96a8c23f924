"""A load-test verdict written into an environment's release record, about that release only.

Promotion out of an environment requires a passing verdict there (`load-test-passed`), so a
verdict may be recorded only while the server answers with the very version the record names,
and its PASS or FAIL is the gate's result, not the caller's choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from core.verdicts import Rule, Verdict
from delivery.promotion import Delivery
from delivery.rules import PromotionRefused
from serving.client import PredictionError
from serving.loadtest import LoadTestResult
from store import release as rel

PASS, FAIL = Verdict.PASS, Verdict.FAIL


class StatusSource(Protocol):
    """What the check needs of a server: its address, and TF Serving's model status."""

    base_url: str

    def status(self, version: int | None = None) -> dict[str, Any]: ...


def check_serves_the_release(environments_dir: Path, env: str, client: StatusSource) -> None:
    """Refuse before the test runs unless the server has `env`'s release version AVAILABLE."""
    record = rel.read(environments_dir, env)
    if record is None:
        raise PromotionRefused(
            Rule.SOURCE_RELEASED,
            f"{env} has no release to attach a load test to; promote to {env} first",
        )
    version = record.current.version
    try:
        states = {s["state"] for s in client.status(version)["model_version_status"]}
    except PredictionError:
        states = set()
    if "AVAILABLE" not in states:
        raise PromotionRefused(
            Rule.SERVES_THE_RELEASE,
            f"the server at {client.base_url} does not "
            f"serve {env}'s release version {version}; a verdict "
            f"recorded now would describe another model. Serve the release with "
            f"`mlops serve --env {env} --release`, or serve, test and record in one step "
            f"with `make serve-loadtest-record ENV={env}`",
        )


def verdict(result: LoadTestResult) -> str:
    """PASS when every SLO held, else FAIL: what `load-test-passed` reads later."""
    return PASS if result.passed else FAIL


def record_result(environments_dir: Path, env: str, result: LoadTestResult) -> rel.Record:
    """Write the verdict and its figures into `env`'s release record (and re-render)."""
    return Delivery(environments_dir).record_loadtest(
        env,
        verdict(result),
        result.reports_dir,
        p95_ms=result.p95_ms,
        p99_ms=result.p99_ms,
        rps=result.rps,
        failure_ratio=result.failures / result.requests if result.requests else 1.0,
    )
