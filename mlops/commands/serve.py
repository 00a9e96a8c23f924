"""`mlops serve`: TF Serving (binary, Docker or the local stand-in) over an environment's store."""

from __future__ import annotations

import argparse
import time

from core import config
from core.errors import MlopsError
from delivery import serve_release
from mlops.arguments import Subparsers, add_env
from serving import backends


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve the environment's model with TF Serving (or the local stand-in)",
        description="Render the TF Serving config files from the environment and start a "
        "server: tensorflow_model_server if on PATH, else Docker "
        "(tensorflow/serving), else the local stand-in. Returns when a version is "
        "AVAILABLE with --detach; otherwise serves until Ctrl-C. Stops at once when a version "
        "fails to load; refuses a version whose digest differs from its release record.",
    )
    add_env(parser, "environment to serve")
    parser.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "binary", "docker", "local"],
        help="force a backend (default: the first available, in that order)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--version",
        type=int,
        action="append",
        metavar="N",
        help="serve version N (repeatable); required by a `specific` policy "
        "until a release record names it",
    )
    which.add_argument(
        "--release",
        action="store_true",
        help="serve the version the environment's release record names, whatever the "
        "version policy (what `loadtest --record` needs; default under `latest`: the newest "
        "pushed model)",
    )
    parser.add_argument("--output", metavar="DIR", help="the --output folder of `mlops run`")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--detach", action="store_true", help="return once ready and leave the server running"
    )
    mode.add_argument("--stop", action="store_true", help="stop the server started with --detach")


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments, output_root=args.output)
    if args.stop:
        return _stop(cfg)
    chosen = serve_release.plan(args.environments, cfg, args.version, release=args.release)
    for note in serve_release.check_digests(args.environments, cfg, chosen):
        print(f"Note: {note}")
    backend = backends.choose_backend(args.backend)
    store_dir = serve_release.pulled_store(cfg, chosen)
    handle = backends.start(
        cfg, backend, versions=chosen.versions, labels=chosen.labels, store_dir=store_dir
    )
    print(f"Starting {handle.describe()} (log: {handle.log_file})", flush=True)
    try:
        states = backends.wait_ready(
            handle, cfg.serving.readiness_timeout_seconds, versions=chosen.versions
        )
    except BaseException:
        backends.stop(handle, cfg)
        raise
    shown = ", ".join(f"version {v} {s}" for v, s in sorted(states.items()))
    print(f"Serving {cfg.model_name} ({shown}) at {handle.rest_url}/v1/models/{cfg.model_name}")
    if args.detach:
        print(f"Stop it with: mlops serve --env {cfg.name} --stop")
        return 0
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while backends.is_running(handle):
            time.sleep(1)
        raise MlopsError(f"the server exited; its log ends with:\n{backends.log_tail(handle)}")
    finally:
        backends.stop(handle, cfg)


def _stop(cfg: config.EnvironmentConfig) -> int:
    """`--stop`: the server `--detach` left running, if any; a stale state file is cleared."""
    handle = backends.read_state(cfg)
    if handle is None or not backends.is_running(handle):
        print(f"No server is running for {cfg.name}.")
        if handle is not None:
            backends.stop(handle, cfg)
        return 0
    backends.stop(handle, cfg)
    print(f"Stopped {handle.describe()}")
    return 0
