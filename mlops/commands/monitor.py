"""`mlops monitor`: serving drift of sampled live requests against the release's training data."""

from __future__ import annotations

import argparse

from core import config, step_summary
from core.uris import repo_relative
from mlops.arguments import Subparsers, add_env
from pipeline import metrics_push, serving_drift


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "monitor",
        help="serving drift: sampled requests vs the release's training data",
        description="Measure the newest monitoring.request_log.window_rows sampled requests "
        "of ENV against the spans its release was trained on, with the drift gate's measures "
        "and thresholds (models/schema/drift.yaml). Writes serving_drift.json/.md and the "
        "figures as Prometheus text (serving_drift.prom) under the work folder's monitor/; "
        "`mlops ct check` reads the report. Where monitoring.pushgateway.url is set, the "
        "figures are pushed there (grouped by job, environment and model_name) for "
        "Prometheus and the ServingDriftHigh alert. Exit 0 whatever the drift (the alert and "
        "ct check act on it), 2 for a missing or unreadable store, 3 for a registry or bucket "
        "store that cannot be reached, or a push that failed (the figures are still written "
        "locally).",
    )
    add_env(parser, "environment whose samples to measure")
    parser.add_argument(
        "--if-sampled",
        action="store_true",
        help="exit 0 with a note when ENV samples no requests (monitoring.request_log.store "
        "empty), as the scheduled ct workflow runs it for every environment",
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="read the training spans from DIR instead of the environment's data.root",
    )
    parser.add_argument(
        "--output", metavar="DIR", help="local working folder (as for `mlops run --output`)"
    )


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments, data_root=args.data, output_root=args.output)
    if args.if_sampled and not cfg.monitoring.request_log.store:
        print(f"{cfg.name}: samples no requests (monitoring.request_log.store is empty): skipped")
        return 0
    result = serving_drift.measure(cfg, args.environments)
    folder = serving_drift.write(cfg, result)
    print(
        f"{cfg.name}: serving drift {result.verdict} ({result.samples} sampled rows, "
        f"{result.skipped_lines} malformed lines skipped)"
    )
    for line in result.lines():
        print(f"  - {line}")
    if result.note:
        print(f"  note: {result.note}")
    print(f"Report: {repo_relative(str(folder / serving_drift.REPORT_MARKDOWN))}")
    step_summary.append(serving_drift.markdown(result))
    gateway = cfg.monitoring.pushgateway
    if gateway.url:
        figures = folder / serving_drift.METRICS_FILE
        url = metrics_push.push(
            figures.read_text(),
            base=gateway.url,
            job=gateway.job,
            labels=serving_drift.group_labels(cfg),
            timeout=gateway.timeout_seconds,
            key=f"{config.source_of(cfg, 'monitoring.pushgateway.url')}: "
            "monitoring.pushgateway.url",
            figures=repo_relative(str(figures)),
        )
        print(f"Pushed the figures to {url}")
    return 0
