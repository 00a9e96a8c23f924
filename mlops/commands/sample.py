"""`mlops sample`: nginx's mirror and the request logger in front of the running server."""

from __future__ import annotations

import argparse

from core import config
from mlops.arguments import Subparsers, add_env
from serving import sampling


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "sample",
        help="sample live requests into the request-log store (nginx mirror)",
        description="Start nginx on monitoring.request_log.proxy_port in front of ENV's "
        "running server (`mlops serve`), mirroring predict requests to the request logger, "
        "which appends monitoring.request_log.fields of each row to "
        "monitoring.request_log.store. Send predictions to the proxy; `--stop` stops both. "
        "See docs/monitoring.md.",
    )
    add_env(parser, "environment whose server to sample")
    parser.add_argument("--output", metavar="DIR", help="the --output folder of `mlops run`")
    parser.add_argument("--stop", action="store_true", help="stop the proxy and the logger")


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments, output_root=args.output)
    if args.stop:
        stopped = sampling.stop_detached(cfg)
        print(f"{cfg.name}: sampling {'stopped' if stopped else 'was not running'}")
        return 0
    sampler = sampling.start_detached(cfg, cfg.serving.rest_port, cfg.serving.host)
    r = cfg.monitoring.request_log
    print(
        f"{cfg.name}: predictions through {sampler.url} are served by port "
        f"{cfg.serving.rest_port} and {r.sample_percent:g}% of them sampled into {r.store}"
    )
    print(f"Stop it with: mlops sample --env {cfg.name} --stop")
    return 0
