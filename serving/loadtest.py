"""The load-test gate: locust against a served model, judged by the environment's SLOs.

Locust runs headless in its own process (it monkey-patches the standard library with gevent,
which must not happen inside a process that holds TensorFlow). The figures come from its stats
CSV after the warm-up was dropped; each SLO in `loadtest.slo` is one line of the verdict.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core import step_summary
from core.config import EnvironmentConfig, SloConfig
from core.errors import ConfigError, GateError, MlopsError
from core.uris import is_remote
from core.verdicts import Verdict
from serving.client import PredictionError, RestClient, ServerUnreachable

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
SUMMARY_FILE = "summary.json"


class LoadTestFailed(GateError):
    """At least one SLO was breached; the message lists each with measured vs limit."""


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

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def table(self) -> str:
        lines = [
            f"Load test of {self.url} ({self.users} users, {self.seconds} s measured): "
            f"{self.requests} requests, {self.failures} failed, {self.rps:.1f} req/s, "
            f"p50 {self.p50_ms:.0f} ms"
        ]
        lines += [f"  {c.line()}" for c in self.checks]
        verdict = Verdict.PASS if self.passed else Verdict.FAIL
        lines.append(f"Load test: {verdict} (reports: {self.reports_dir})")
        return "\n".join(lines)

    def markdown(self) -> str:
        rows = "\n".join(
            f"| {c.name} | {c.measured:.4g}{c.unit} | {'≥' if c.higher_is_better else '≤'} "
            f"{c.limit:g}{c.unit} | {'✅' if c.ok else '❌'} |"
            for c in self.checks
        )
        return (
            f"### Load test ({self.env}): {Verdict.PASS if self.passed else Verdict.FAIL}\n\n"
            f"{self.users} users, {self.seconds} s after warm-up, {self.requests} requests, "
            f"{self.failures} failed.\n\n| SLO | measured | limit | |\n|---|---|---|---|\n"
            f"{rows}\n"
        )


def evaluate(stats: dict[str, float], slo: SloConfig) -> list[SloCheck]:
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
        "p50_ms": num("50%") if requests else math.inf,
        "p95_ms": num("95%") if requests else math.inf,
        "p99_ms": num("99%") if requests else math.inf,
    }


def _failure_samples(prefix: Path, limit: int = 5) -> list[str]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open() as f:
        return [f"{r['Occurrences']}x {r['Error']}" for r in csv.DictReader(f)][:limit]


def _eval_splits(cfg: EnvironmentConfig) -> list[Path]:
    if is_remote(cfg.paths.pipeline_root):
        return []
    root = Path(cfg.paths.pipeline_root) / "CsvExampleGen" / "examples"
    return sorted(root.glob("*/Split-eval"), key=lambda p: p.stat().st_mtime)


def has_eval_split(cfg: EnvironmentConfig) -> bool:
    return bool(_eval_splits(cfg))


def eval_examples(cfg: EnvironmentConfig, limit: int) -> list[bytes]:
    """Serialized tf.Examples from the newest evaluation split CsvExampleGen wrote."""
    import tensorflow as tf

    splits = _eval_splits(cfg)
    if not splits:
        raise ConfigError(
            f"no evaluation split of {cfg.name}'s pipeline under "
            f"{cfg.paths.pipeline_root}: run `mlops run --env {cfg.name}` first, "
            f"pass --rows FILE.csv, or set loadtest.rows_file"
        )
    files = sorted(str(p) for p in splits[-1].glob("*.gz"))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").take(limit)
    return [bytes(x.numpy()) for x in dataset]


def csv_examples(path: Path, limit: int) -> list[bytes]:
    from store import rows as R

    return R.examples(R.read_csv(path, R.load_schema(), limit=limit))


@dataclass(frozen=True)
class RowsSource:
    """Where the request rows come from: a CSV file (`where` names the option or key that gave
    it, for messages), or the pipeline's newest evaluation split when `path` is None."""

    path: Path | None
    where: str
    note: str = ""  # said to the user when the source was not asked for


def rows_source(cfg: EnvironmentConfig, rows: Path | None) -> RowsSource:
    """--rows, else the newest evaluation split, else loadtest.rows_file on a machine without
    one (a CI job that did not run the pipeline)."""
    if rows is None and not has_eval_split(cfg) and cfg.loadtest.rows_file:
        path = Path(cfg.loadtest.rows_file)
        return RowsSource(
            path,
            "loadtest.rows_file",
            f"No evaluation split of {cfg.name}'s pipeline on this machine; sending rows "
            f"from {path} (loadtest.rows_file)",
        )
    return RowsSource(rows, "--rows")


def request_examples(cfg: EnvironmentConfig, source: RowsSource) -> list[bytes]:
    """Serialized tf.Examples to send, at most loadtest.rows; a bad CSV is a config error
    naming the option or key that chose it."""
    if source.path is None:
        return eval_examples(cfg, cfg.loadtest.rows)
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
) -> LoadTestResult:
    """Run locust headless against `url` and judge the figures; never raises on a breach."""
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
    for old in reports_dir.glob("locust_*.csv"):
        old.unlink()
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "-u",
        str(users),
        "-r",
        f"{lt.spawn_rate:g}",
        "-t",
        f"{lt.warmup_seconds + seconds}s",
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
    }
    env.pop("GITHUB_STEP_SUMMARY", None)
    log = reports_dir / "locust.log"
    with log.open("w") as out:
        proc = subprocess.run(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=lt.warmup_seconds + seconds + 120,
        )
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise MlopsError(f"locust exited with status {proc.returncode}; {log} ends with:\n{tail}")
    stats = read_locust_stats(prefix)
    result = LoadTestResult(
        env=cfg.name,
        url=url,
        users=users,
        seconds=seconds,
        requests=int(stats["requests"]),
        failures=int(stats["failures"]),
        rps=stats["rps"],
        p50_ms=stats["p50_ms"],
        p95_ms=stats["p95_ms"],
        p99_ms=stats["p99_ms"],
        checks=evaluate(stats, lt.slo),
        reports_dir=str(reports_dir),
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        failure_samples=_failure_samples(prefix),
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
    if result.passed:
        return
    breached = "\n".join(f"  {c.line()}" for c in result.checks if not c.ok)
    samples = "".join(f"\n  e.g. {s}" for s in result.failure_samples)
    raise LoadTestFailed(
        f"load test failed for {result.env}; SLOs breached:\n{breached}"
        f"{samples}\nReports: {result.reports_dir}"
    )
