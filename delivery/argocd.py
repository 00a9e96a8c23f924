"""Wait until Argo CD runs an environment's release, before a load test hits its endpoint.

A merge to main changes `environments/<env>/manifests/`; Argo CD syncs it some time later. A load
test started at merge time measures the old release. This waits, through Argo CD's REST API,
until the environment's Application is Synced and Healthy *and* the live Deployment carries the
release's digest annotation (`mlops.template/model-digest`), so a later commit on main (which Argo
CD may have synced instead) cannot pass for ours.

    python -m delivery.argocd wait --env staging [--timeout 600]

Reads ARGOCD_SERVER (base URL, e.g. https://argocd.example.com) and ARGOCD_AUTH_TOKEN (an API
token of an Argo CD account allowed to get the application). Without ARGOCD_SERVER it says so and
returns at once. Exit status: 0 running the release, 1 not within the timeout, 2 bad setup,
3 Argo CD unreachable or credentials refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.errors import ConfigError, GateError, InfraError, MlopsError
from core.paths import REPO_ROOT
from delivery.repo_url import WHAT_TO_SET

DIGEST_ANNOTATION = "mlops.template/model-digest"


@dataclass(frozen=True)
class Target:
    """What must be live: the Application, its Deployment, and the release's digest."""

    app: str
    app_namespace: str
    deployment: str
    namespace: str
    digest: str
    # A shadow or canary environment runs its pods under an Argo Rollouts Rollout instead.
    kind: str = "Deployment"
    group: str = "apps"
    version: str = "v1"


@dataclass(frozen=True)
class Observed:
    sync: str
    health: str
    live_digest: str

    def matches(self, target: Target) -> bool:
        return (self.sync, self.health, self.live_digest) == ("Synced", "Healthy", target.digest)

    def describe(self, target: Target) -> str:
        digest = self.live_digest or "none"
        return (
            f"sync {self.sync}, health {self.health}, live digest {digest[:19]} "
            f"(release {target.digest[:19]})"
        )


def _load(path: Path) -> dict:
    if not path.exists():
        raise ConfigError(f"{path}: missing; run `mlops render` (and promote a release first)")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a Kubernetes object")
    return data


def target_for(env: str, root: Path = REPO_ROOT) -> Target:
    """From the committed files: environments/<env>/argocd/application.yaml and the rendered
    Deployment."""
    application = root / "environments" / env / "argocd" / "application.yaml"
    if not application.exists() and application.with_name("README.md").exists():
        raise ConfigError(
            f"{application}: not rendered, for want of the repository URL Argo CD reads: "
            f"{WHAT_TO_SET}; then run `mlops render` and commit"
        )
    app = _load(application)["metadata"]
    manifests = root / "environments" / env / "manifests"
    deployment_file = manifests / "deployment.yaml"
    if (manifests / "rollout.yaml").exists():  # rollout.strategy shadow or canary
        deployment_file = manifests / "rollout.yaml"
    workload = _load(deployment_file)
    meta = workload["metadata"]
    digest = (meta.get("annotations") or {}).get(DIGEST_ANNOTATION, "")
    if not digest:
        raise ConfigError(f"{deployment_file}: no {DIGEST_ANNOTATION} annotation")
    return Target(
        app=app["name"],
        app_namespace=app.get("namespace", "argocd"),
        deployment=meta["name"],
        namespace=meta["namespace"],
        digest=digest,
        kind=workload.get("kind", "Deployment"),
        group=workload.get("apiVersion", "apps/v1").rpartition("/")[0],
        version=workload.get("apiVersion", "apps/v1").rpartition("/")[2],
    )


class Client:
    def __init__(self, server: str, token: str, timeout: float = 10) -> None:
        if not server.startswith(("http://", "https://")):
            raise ConfigError(f"ARGOCD_SERVER: expected an http(s) URL, got {server!r}")
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def get(self, path: str, **query: str) -> dict:
        url = f"{self.server}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise InfraError(
                    f"Argo CD at {self.server} refused the credentials (HTTP "
                    f"{exc.code}); check the ARGOCD_AUTH_TOKEN secret and that its "
                    f"account may get the application"
                ) from None
            if exc.code == 404:
                return {}
            raise InfraError(f"Argo CD at {self.server}: HTTP {exc.code} for {path}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InfraError(
                f"Argo CD at {self.server} (ARGOCD_SERVER) is unreachable: {reason}"
            ) from None

    def observe(self, target: Target, refresh: bool) -> Observed:
        query = {"appNamespace": target.app_namespace}
        if refresh:
            query["refresh"] = "normal"  # ask Argo CD to look at Git now, not at its next poll
        app = self.get(f"applications/{urllib.parse.quote(target.app)}", **query)
        if not app:
            raise InfraError(
                f"Argo CD at {self.server} has no application {target.app!r} "
                f"(apply environments/*/argocd/application.yaml)"
            )
        status = app.get("status") or {}
        live = self.get(
            f"applications/{urllib.parse.quote(target.app)}/resource",
            appNamespace=target.app_namespace,
            namespace=target.namespace,
            resourceName=target.deployment,
            group=target.group,
            version=target.version,
            kind=target.kind,
        )
        manifest = json.loads(live.get("manifest") or "{}") if live else {}
        annotations = (manifest.get("metadata") or {}).get("annotations") or {}
        return Observed(
            sync=(status.get("sync") or {}).get("status", "Unknown"),
            health=(status.get("health") or {}).get("status", "Unknown"),
            live_digest=annotations.get(DIGEST_ANNOTATION, ""),
        )


def wait(
    client: Client, target: Target, timeout: float, interval: float = 5, say=print
) -> Observed:
    deadline = time.monotonic() + timeout
    last = ""
    first = True
    while True:
        seen = client.observe(target, refresh=first)
        first = False
        line = seen.describe(target)
        if line != last:
            say(f"Argo CD {target.app}: {line}")
            last = line
        if seen.matches(target):
            return seen
        if time.monotonic() >= deadline:
            raise GateError(
                f"Argo CD application {target.app} did not run the release within "
                f"{timeout:.0f} s: {line}. Look at the application in Argo CD (sync "
                f"errors, failing pods) before load-testing the endpoint."
            )
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m delivery.argocd")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("wait", help="wait until Argo CD runs ENV's committed release")
    w.add_argument("--env", required=True)
    w.add_argument(
        "--timeout", type=float, default=float(os.environ.get("ARGOCD_WAIT_SECONDS") or 600)
    )
    w.add_argument("--interval", type=float, default=5)
    args = parser.parse_args(argv)
    server = os.environ.get("ARGOCD_SERVER", "")
    if not server:
        print(f"No Argo CD server configured (ARGOCD_SERVER): not waiting for {args.env}'s sync.")
        return 0
    try:
        token = os.environ.get("ARGOCD_AUTH_TOKEN", "")
        if not token:
            raise ConfigError(
                "ARGOCD_SERVER is set but ARGOCD_AUTH_TOKEN is empty: add the "
                "secret (an Argo CD API token) or unset the server"
            )
        target = target_for(args.env)
        seen = wait(Client(server, token), target, args.timeout, args.interval)
    except MlopsError as exc:
        print(f"argocd wait: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"Argo CD runs {args.env}'s release ({seen.live_digest[:19]}): synced and healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
