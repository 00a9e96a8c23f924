"""`mlops analyze`: the canary analysis of one environment, measured now through Prometheus."""

from __future__ import annotations

import argparse

from core import config
from core.errors import ConfigError, GateError
from core.verdicts import Verdict
from delivery import canary_analysis
from mlops.arguments import Subparsers, add_env

RECORDED = {
    canary_analysis.PASS: Verdict.PASS,
    canary_analysis.FAIL: Verdict.FAIL,
    canary_analysis.INCONCLUSIVE: Verdict.INCONCLUSIVE,
}


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "analyze",
        help="judge the candidate (role=canary pods) by its TF Serving metrics in Prometheus",
        description="Evaluate the queries of the environment's rendered AnalysisTemplate "
        "(the same PromQL) through Prometheus's HTTP API, print each metric against its "
        "threshold and a verdict. Exit 0 pass, 1 fail or inconclusive (too little "
        "traffic is never a pass), 3 when Prometheus cannot be asked.",
    )
    add_env(parser, "environment whose rollout.analysis thresholds apply")
    parser.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="Prometheus base URL, e.g. http://127.0.0.1:9090",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the verdict and its figures into the environment's release record, beside "
        "the load test's (the analysis-passed promotion rule reads it)",
    )


def run(args: argparse.Namespace) -> int:
    if not args.prometheus.startswith(("http://", "https://")):
        raise ConfigError(
            f"--prometheus {args.prometheus!r}: expected an http:// or https:// URL, "
            f"e.g. http://127.0.0.1:9090"
        )
    cfg = config.load(args.env, args.environments)
    analysis = canary_analysis.analyze(cfg, args.prometheus)
    print(analysis.report(args.prometheus))
    if args.record:
        from delivery.promotion import Delivery

        figures = {m.query.name: m.value for m in analysis.measurements}
        Delivery(args.environments).record_analysis(
            args.env,
            RECORDED[analysis.verdict],
            requests=figures.get("request-count"),
            error_ratio=figures.get("error-ratio"),
            p99_ms=figures.get("latency-p99"),
        )
        print(f"Recorded {RECORDED[analysis.verdict]} in environments/{args.env}/release.yaml")
    if analysis.verdict != canary_analysis.PASS:
        raise GateError(f"canary analysis of {args.env}: {analysis.verdict}: {analysis.reason()}")
    return 0
