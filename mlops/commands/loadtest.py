"""`mlops loadtest`: the locust gate against a served model, optionally recorded in the release."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import config
from core.errors import ConfigError
from core.uris import display
from delivery import loadtest_record
from mlops.arguments import Subparsers, add_env
from serving import loadtest
from serving.backends import server_urls
from serving.client import check_rest_url
from store import release as rel


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "loadtest",
        help="the locust load-test gate against a served model",
        description="Post evaluation rows to :predict with locust (headless), drop the warm-up, "
        "and check the environment's SLOs (loadtest.slo). Exit 1 on any breach.",
    )
    add_env(parser, "environment whose load shape and SLOs to use")
    parser.add_argument("--url", help="REST base URL (default: the environment's server)")
    parser.add_argument(
        "--rows",
        type=Path,
        metavar="FILE.csv",
        help="send these rows instead of the pipeline's evaluation split",
    )
    parser.add_argument("--output", metavar="DIR", help="the --output folder of `mlops run`")
    parser.add_argument("--seconds", type=int, help="override loadtest.run_seconds")
    parser.add_argument("--users", type=int, help="override loadtest.users")
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the verdict into the environment's release record",
    )


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments, output_root=args.output)
    for flag, value in (("--seconds", args.seconds), ("--users", args.users)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag}: must be >= 1, got {value}")
    url = server_urls(cfg)[0] if args.url is None else check_rest_url(args.url, "--url")
    served = loadtest.served_versions(url, cfg.model_name)
    source = loadtest.rows_source(cfg, args.rows, environments_dir=args.environments, served=served)
    if source.note:
        print(source.note)
    examples = loadtest.request_examples(cfg, source)
    client = loadtest.answering_client(url, cfg.model_name)
    if args.record:
        loadtest_record.check_serves_the_release(args.environments, cfg.name, client)
    print(
        f"Load test of {url} for {cfg.name}: {cfg.loadtest.warmup_seconds} s warm-up, then "
        f"{args.seconds or cfg.loadtest.run_seconds} s measured with "
        f"{args.users or cfg.loadtest.users} users, {len(examples)} evaluation rows",
        flush=True,
    )
    result = loadtest.run(
        cfg, url, examples, Path(cfg.work_dir) / "loadtest", users=args.users, seconds=args.seconds
    )
    print(result.table())
    # Imported here: the report's charts (matplotlib) and the run summary (TFX) take seconds
    # to import, and every `mlops` command would pay for them at start-up.
    from report import build

    build.record_served(cfg, served)
    report = build.refresh(cfg, args.environments)
    if isinstance(report, Path):
        print(f"Report: {display(report)} (with this load test when it measured the run's model)")
    else:
        print(f"Report not refreshed: {report}")
    if args.record:
        record = loadtest_record.record_result(args.environments, cfg.name, result)
        print(
            f"Recorded {record.current.loadtest.verdict} for {cfg.name}'s "
            f"{record.current.short()} in "
            f"{display(rel.record_path(args.environments, cfg.name))}"
        )
    loadtest.gate(result)
    return 0
