"""The load-test gate: locust against a served model, judged by the environment's SLOs.

Locust runs headless in its own process (it monkey-patches the standard library with gevent,
which must not happen inside a process that holds TensorFlow). The figures come from its CSV
files after the warm-up was dropped; `judge` turns them into the verdict without running
anything, so every rule of it is tested on figures alone.

The gate fails closed. Before any SLO counts, the figures must describe the whole measured
window: no request may have gone unanswered (a connection error), no locust user may have
crashed (its request is then never counted), some requests must have completed, and their
number must be near what the users could send in the window (see `expected_requests`).
Throughput is requests over the whole window, not locust's rate up to its last request.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import math
import os
import subprocess
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core import step_summary
from core.config import EnvironmentConfig, SloConfig
from core.errors import ConfigError, GateError, MlopsError
from core.verdicts import Verdict
from serving.client import PredictionError, RestClient, ServerUnreachable
from serving.eval_rows import eval_examples as eval_examples
from serving.eval_rows import has_eval_split as has_eval_split
from serving.eval_rows import served_versions as served_versions
from serving.responses import CONNECTION_ERROR

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
WINDOW_MODULE = Path(__file__).with_name("locust_window.py")
WINDOW_FILE = "locust_window.json"
SUMMARY_FILE = "summary.json"
# Closed loop: a user sends its next request this long after the last answer (locustfile.py).
USER_WAIT_SECONDS = 0.0
# The share of `expected_requests` a run must reach. Each user also spends time outside the
# measured response (building the request, checking the answer, locust's bookkeeping), more so
# on a busy machine and with fast answers: healthy runs against the stand-in on a shared 2-core
# machine reached 0.85-1.0 of the expectation with 1, 4 and 16 users, requests refused in about
# a millisecond 0.64; users that stopped, or requests that went uncounted, fall below half.
MIN_REQUEST_SHARE = 0.5


class LoadTestFailed(GateError):
    """The figures cannot be trusted, or an SLO was breached; the message lists each reason."""


@dataclass
class SloCheck:
    name: str
    key: str
    measured: float
    limit: float
    unit: str
    higher_is_better: bool = False

    @property
    def ok(self) -> bool:
        return (
            self.measured >= self.limit if self.higher_is_better else (self.measured <= self.limit)
        )

    def line(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        verdict = "ok" if self.ok else "BREACHED"
        return (
            f"{self.name}: {self.measured:.4g}{self.unit} (limit {op} {self.limit:g}"
            f"{self.unit}, loadtest.slo.{self.key}) {verdict}"
        )


@dataclass
class LoadTestResult:
    env: str
    url: str
    users: int
    seconds: int
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    checks: list[SloCheck] = field(default_factory=list)
    reports_dir: str = ""
    finished_at: str = ""
    failure_samples: list[str] = field(default_factory=list)
    # Why the figures cannot be trusted (see `judge`); any one fails the gate whatever the SLOs.
    problems: list[str] = field(default_factory=list)
    expected_requests: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems and all(c.ok for c in self.checks)

    def table(self) -> str:
        lines = [
            f"Load test of {self.url} ({self.users} users, {self.seconds} s measured): "
            f"{self.requests} requests, {self.failures} failed, {self.rps:.1f} req/s, "
            f"p50 {self.p50_ms:.0f} ms"
        ]
        lines += [f"  {c.line()}" for c in self.checks]
        lines += [f"  FAIL: {p}" for p in self.problems]
        verdict = Verdict.PASS if self.passed else Verdict.FAIL
        lines.append(f"Load test: {verdict} (reports: {self.reports_dir})")
        return "\n".join(lines)

    def markdown(self) -> str:
        rows = "\n".join(
            f"| {c.name} | {c.measured:.4g}{c.unit} | {'≥' if c.higher_is_better else '≤'} "
            f"{c.limit:g}{c.unit} | {'✅' if c.ok else '❌'} |"
            for c in self.checks
        )
        problems = "".join(f"\n**FAIL:** {p}\n" for p in self.problems)
        return (
            f"### Load test ({self.env}): {Verdict.PASS if self.passed else Verdict.FAIL}\n\n"
            f"{self.users} users, {self.seconds} s after warm-up, {self.requests} requests, "
            f"{self.failures} failed.\n{problems}\n| SLO | measured | limit | |\n"
            f"|---|---|---|---|\n{rows}\n"
        )


def evaluate(stats: Mapping[str, float], slo: SloConfig) -> list[SloCheck]:
    """One check per SLO, on figures already read (`judge` adds the window's throughput)."""
    requests = stats["requests"]
    ratio = stats["failures"] / requests if requests else 1.0
    return [
        SloCheck("p95 latency", "p95_ms", stats["p95_ms"], slo.p95_ms, " ms"),
        SloCheck("p99 latency", "p99_ms", stats["p99_ms"], slo.p99_ms, " ms"),
        SloCheck("failure ratio", "max_failure_ratio", ratio, slo.max_failure_ratio, ""),
        SloCheck(
            "throughput", "min_rps", stats["rps"], slo.min_rps, " req/s", higher_is_better=True
        ),
    ]


def read_locust_stats(prefix: Path) -> dict[str, float]:
    """The aggregated row of locust's `<prefix>_stats.csv`."""
    path = Path(f"{prefix}_stats.csv")
    if not path.exists():
        raise MlopsError(f"locust wrote no statistics ({path} is missing)")
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    if not rows:
        raise MlopsError(f"{path} has no Aggregated row")
    r = rows[0]

    def num(key: str) -> float:
        value = r.get(key, "")
        return float(value) if value not in ("", "N/A") else math.inf

    requests = int(r["Request Count"])
    return {
        "requests": requests,
        "failures": int(r["Failure Count"]),
        "rps": float(r["Requests/s"]) if requests else 0.0,
        "avg_ms": num("Average Response Time") if requests else math.inf,
        "p50_ms": num("50%") if requests else math.inf,
        "p95_ms": num("95%") if requests else math.inf,
        "p99_ms": num("99%") if requests else math.inf,
    }


def _read_counts(path: Path, text: str, count: str, what: str) -> list[tuple[str, int]]:
    if not path.exists():
        raise MlopsError(f"locust wrote no {what} ({path} is missing)")
    with path.open() as f:
        return [(r[text], int(r[count])) for r in csv.DictReader(f)]


def read_failures(prefix: Path) -> list[tuple[str, int]]:
    """(error, occurrences) per failure locust counted in the measured window."""
    return _read_counts(Path(f"{prefix}_failures.csv"), "Error", "Occurrences", "failure list")


def read_exceptions(prefix: Path) -> list[tuple[str, int]]:
    """(message, count) per exception raised inside a locust user during the whole run."""
    return _read_counts(Path(f"{prefix}_exceptions.csv"), "Message", "Count", "exception list")


def read_window(path: Path, log: Path) -> float:
    """The measured window's real length, as locust_window.py timed it."""
    try:
        return float(json.loads(path.read_text())["measured_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        raise MlopsError(
            f"locust stopped before the measured window ended ({path} was not written), so "
            f"its figures cover an unknown part of the window; see {log}"
        ) from None


def expected_requests(users: int, seconds: float, mean_ms: float, wait_seconds: float) -> float:
    """Requests a closed loop completes in the window: each user sends one, waits for the
    answer (the mean response time), waits `wait_seconds`, and sends the next."""
    cycle = mean_ms / 1000 + wait_seconds
    return users * seconds / cycle if cycle > 0 else math.inf


@dataclass
class Judgement:
    checks: list[SloCheck]
    problems: list[str]
    rps: float  # requests over the whole measured window
    expected_requests: float


def judge(
    stats: Mapping[str, float],
    slo: SloConfig,
    *,
    users: int,
    seconds: float,
    wait_seconds: float = USER_WAIT_SECONDS,
    failures: Sequence[tuple[str, int]] = (),
    exceptions: Sequence[tuple[str, int]] = (),
) -> Judgement:
    """The verdict on locust's figures: the SLO checks, and every reason the figures cannot be
    trusted (each one fails the gate, whatever the SLOs say)."""
    requests = int(stats["requests"])
    rps = requests / seconds
    checks = evaluate({**stats, "rps": rps}, slo)
    expected = expected_requests(users, seconds, stats["avg_ms"], wait_seconds)
    problems = []
    if requests == 0:
        problems.append(
            f"no request completed in the {seconds:.3g} s measured window: nothing was "
            f"measured, so nothing can pass"
        )
    elif requests < MIN_REQUEST_SHARE * expected:
        problems.append(
            f"only {requests} requests in the {seconds:.3g} s measured window, where {users} "
            f"users waiting {wait_seconds:g} s after each answer, at the mean response time "
            f"of {stats['avg_ms']:.1f} ms, would send about {expected:.0f}; fewer than "
            f"{MIN_REQUEST_SHARE:.0%} of that means users stopped sending or their requests "
            f"went uncounted (see locust.log)"
        )
    unanswered = [(error, n) for error, n in failures if CONNECTION_ERROR in error]
    if unanswered:
        problems.append(
            f"{sum(n for _, n in unanswered)} request(s) could not reach the server (e.g. "
            f"{unanswered[0][0]}): it stopped or refused connections during the test; "
            f"check that it stays up for the whole run"
        )
    if exceptions:
        problems.append(
            f"locust users crashed with {sum(n for _, n in exceptions)} exception(s) (e.g. "
            f"{exceptions[0][0]}): the requests they were making were never counted; see "
            f"locust_exceptions.csv and locust.log"
        )
    return Judgement(checks, problems, rps, expected)


def csv_examples(path: Path, limit: int) -> list[bytes]:
    from store import rows as R

    return R.examples(R.read_csv(path, R.load_schema(), limit=limit))


@dataclass(frozen=True)
class RowsSource:
    """Where the request rows come from: a CSV file (`where` names the option or key that gave
    it, for messages), or the evaluation span of the model under test when `path` is None
    (`served`: the versions the server serves, which name that model)."""

    path: Path | None
    where: str
    note: str = ""  # said to the user when the source was not asked for
    environments_dir: Path | None = None
    served: frozenset[int] | None = None


def rows_source(
    cfg: EnvironmentConfig,
    rows: Path | None,
    *,
    environments_dir: Path | None = None,
    served: Collection[int] | None = None,
) -> RowsSource:
    """--rows, else the evaluation span of the model under test, else loadtest.rows_file on a
    machine that cannot read that span (a CI job that did not run the pipeline)."""
    found = frozenset(served) if served is not None else None
    if (
        rows is None
        and not has_eval_split(cfg, environments_dir=environments_dir, served=found)
        and cfg.loadtest.rows_file
    ):
        path = Path(cfg.loadtest.rows_file)
        return RowsSource(
            path,
            "loadtest.rows_file",
            f"No evaluation split of {cfg.name}'s pipeline on this machine; sending rows "
            f"from {path} (loadtest.rows_file)",
        )
    return RowsSource(rows, "--rows", environments_dir=environments_dir, served=found)


def request_examples(cfg: EnvironmentConfig, source: RowsSource) -> list[bytes]:
    """Serialized tf.Examples to send, at most loadtest.rows; a bad CSV is a config error
    naming the option or key that chose it."""
    if source.path is None:
        return eval_examples(
            cfg, cfg.loadtest.rows, environments_dir=source.environments_dir, served=source.served
        )
    try:
        return csv_examples(source.path, cfg.loadtest.rows)
    except OSError as exc:
        raise ConfigError(f"{source.where}: cannot read {source.path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{source.where}: {exc}") from None


def answering_client(url: str, model: str) -> RestClient:
    """A REST client for `url`, once the server answers for `model`: no test runs against
    nothing."""
    client = RestClient(url, model, timeout=10)
    try:
        client.status()
    except PredictionError as exc:
        kind = ServerUnreachable if isinstance(exc, ServerUnreachable) else MlopsError
        raise kind(f"no model server answers: {exc}") from None
    return client


def run(
    cfg: EnvironmentConfig,
    url: str,
    examples: list[bytes],
    reports_dir: Path,
    *,
    users: int | None = None,
    seconds: int | None = None,
    locustfile: Path = LOCUSTFILE,
) -> LoadTestResult:
    """Run locust headless against `url` and judge the figures; never raises on a breach."""
    if not examples:
        raise ConfigError(
            "no rows to send: the load test needs at least one evaluation row (--rows FILE.csv "
            "or the evaluation span of the model under test)"
        )
    lt = cfg.loadtest
    users = users or lt.users
    seconds = seconds or lt.run_seconds
    reports_dir.mkdir(parents=True, exist_ok=True)
    bodies = reports_dir / "request_bodies.json"
    bodies.write_text(
        json.dumps(
            [
                {
                    "signature_name": "serving_default",
                    "instances": [{"examples": {"b64": base64.b64encode(e).decode()}}],
                }
                for e in examples
            ]
        )
    )
    prefix = reports_dir / "locust"
    for old in [*reports_dir.glob("locust_*.csv"), reports_dir / WINDOW_FILE]:
        old.unlink(missing_ok=True)
    # locust_window.py ends the run once the window is measured; --run-time is only a backstop.
    backstop = lt.warmup_seconds + seconds + 60
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        f"{WINDOW_MODULE},{locustfile}",
        "--headless",
        "--host",
        url,
        "-u",
        str(users),
        "-r",
        f"{lt.spawn_rate:g}",
        "-t",
        f"{backstop}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(prefix),
        "--html",
        str(reports_dir / "report.html"),
        "--json-file",
        str(reports_dir / "locust"),
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]
    env = {
        **os.environ,
        "MLOPS_MODEL_NAME": cfg.model_name,
        "MLOPS_REQUEST_BODIES": str(bodies),
        "MLOPS_WARMUP_SECONDS": str(lt.warmup_seconds),
        "MLOPS_MEASURED_SECONDS": str(seconds),
        "MLOPS_WINDOW_FILE": str(reports_dir / WINDOW_FILE),
        "MLOPS_WAIT_SECONDS": str(USER_WAIT_SECONDS),
    }
    env.pop("GITHUB_STEP_SUMMARY", None)
    log = reports_dir / "locust.log"
    limit = backstop + 60
    with log.open("w") as out:
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=limit)
        except subprocess.TimeoutExpired:
            raise MlopsError(f"locust did not finish within {limit} s; see {log}") from None
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise MlopsError(f"locust exited with status {proc.returncode}; {log} ends with:\n{tail}")
    stats = read_locust_stats(prefix)
    failures = read_failures(prefix)
    verdict = judge(
        stats,
        lt.slo,
        users=users,
        seconds=read_window(reports_dir / WINDOW_FILE, log),
        failures=failures,
        exceptions=read_exceptions(prefix),
    )
    result = LoadTestResult(
        env=cfg.name,
        url=url,
        users=users,
        seconds=seconds,
        requests=int(stats["requests"]),
        failures=int(stats["failures"]),
        rps=verdict.rps,
        p50_ms=stats["p50_ms"],
        p95_ms=stats["p95_ms"],
        p99_ms=stats["p99_ms"],
        checks=verdict.checks,
        reports_dir=str(reports_dir),
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        failure_samples=[f"{n}x {error}" for error, n in failures][:5],
        problems=verdict.problems,
        expected_requests=verdict.expected_requests,
    )
    write_reports(result, reports_dir)
    return result


def write_reports(result: LoadTestResult, reports_dir: Path) -> None:
    payload = asdict(result)
    payload["passed"] = result.passed
    for check, c in zip(payload["checks"], result.checks, strict=True):
        check["ok"] = c.ok
    (reports_dir / SUMMARY_FILE).write_text(json.dumps(payload, indent=1))
    (reports_dir / "summary.md").write_text(result.markdown())
    step_summary.append(result.markdown())


def gate(result: LoadTestResult) -> None:
    """Raise LoadTestFailed naming every reason, untrustworthy figures first, then breaches."""
    if result.passed:
        return
    parts = []
    if result.problems:
        listed = "\n".join(f"  {p}" for p in result.problems)
        parts.append(f"the figures cannot be trusted:\n{listed}")
    breached = [c for c in result.checks if not c.ok]
    if breached:
        parts.append("SLOs breached:\n" + "\n".join(f"  {c.line()}" for c in breached))
    samples = "".join(f"\n  e.g. {s}" for s in result.failure_samples)
    raise LoadTestFailed(
        f"load test failed for {result.env}; "
        + "\n".join(parts)
        + samples
        + f"\nReports: {result.reports_dir}"
    )
