"""`mlops render`: Kubernetes manifests from config and release records, or `--check` them."""

from __future__ import annotations

import argparse
import sys

from core import config
from delivery import manifests, repo_url
from mlops.arguments import Subparsers


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "render",
        help="render Kubernetes manifests from config and release records",
        description="Write environments/<env>/manifests/ and "
        "environments/<env>/argocd/application.yaml; with --check, "
        "change nothing and fail if any committed file is stale.",
    )
    parser.add_argument("--env", metavar="ENV", help="only this environment (default: all)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="fail (exit 1) when committed manifests differ from a fresh render",
    )


def run(args: argparse.Namespace) -> int:
    envs = [args.env] if args.env else config.available_environments(args.environments)
    if args.check:
        manifests.check(args.environments, envs)
        print(f"Manifests up to date for {', '.join(envs)}.")
        return 0
    drift = manifests.render(args.environments, envs, check=False)
    print(
        f"Rendered {', '.join(envs)}"
        + (f"; changed: {', '.join(d.path for d in drift)}" if drift else "; nothing changed")
    )
    unrendered = [e for e in envs if not manifests.argocd_path(args.environments, e).exists()]
    if unrendered:
        print(
            f"No Argo CD Application for {', '.join(unrendered)}: no repository URL; "
            f"{repo_url.WHAT_TO_SET}",
            file=sys.stderr,
        )
    return 0
