"""The Argo CD wait, against a local HTTP server that answers like Argo CD's REST API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from core.errors import ConfigError, GateError, InfraError
from delivery import argocd
from tests.support.fake_http import FakeHttp, Request

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64
TARGET = argocd.Target(
    app="taxi-tips-serving-staging",
    app_namespace="argocd",
    deployment="taxi-tips-serving",
    namespace="taxi-tips-staging",
    digest=NEW,
)


class FakeArgoCD(FakeHttp):
    """Serves a script of (sync, health, live digest) states, one per application read."""

    def __init__(self, states: list[tuple[str, str, str]], token: str = "t0ken") -> None:
        app = f"/api/v1/applications/{TARGET.app}"

        def answer(request: Request) -> tuple[int, dict]:
            reads = sum(r.path == app for r in self.requests)
            sync, health, digest = states[min(reads - 1, len(states) - 1)]
            if request.path == app:
                return 200, {
                    "metadata": {"name": TARGET.app},
                    "status": {
                        "sync": {"status": sync, "revision": "f" * 40},
                        "health": {"status": health},
                    },
                }
            if request.path == app + "/resource":
                live = {
                    "kind": "Deployment",
                    "metadata": {
                        "name": TARGET.deployment,
                        "annotations": {argocd.DIGEST_ANNOTATION: digest},
                    },
                }
                return 200, {"manifest": json.dumps(live)}
            return 404, {"error": "not found"}

        super().__init__(answer, token=token, refused={"error": "invalid session"})


@pytest.fixture
def argo() -> Iterator[Callable[..., FakeArgoCD]]:
    with ExitStack() as started:
        yield lambda states, token="t0ken": started.enter_context(FakeArgoCD(states, token))


def test_waits_through_sync_and_rollout_until_the_release_is_live(argo) -> None:
    fake = argo(
        [
            ("OutOfSync", "Healthy", OLD),
            ("Synced", "Progressing", OLD),
            ("Synced", "Progressing", NEW),
            ("Synced", "Healthy", NEW),
        ]
    )
    lines: list[str] = []
    seen = argocd.wait(
        argocd.Client(fake.url, "t0ken"), TARGET, timeout=10, interval=0.01, say=lines.append
    )
    assert seen == argocd.Observed("Synced", "Healthy", NEW)
    assert len(lines) == 4 and "sync OutOfSync, health Healthy" in lines[0]
    reads = [r.query for r in fake.requests if r.path.endswith(TARGET.app)]
    assert reads[0]["refresh"] == ["normal"] and "refresh" not in reads[1]
    resource = next(r.query for r in fake.requests if r.path.endswith("/resource"))
    assert resource["resourceName"] == [TARGET.deployment]
    assert resource["namespace"] == [TARGET.namespace] and resource["kind"] == ["Deployment"]


def test_synced_and_healthy_on_another_digest_is_not_enough(argo) -> None:
    """Argo CD synced a newer commit (or has not seen ours): the old model still runs."""
    fake = argo([("Synced", "Healthy", OLD)])
    with pytest.raises(GateError) as err:
        argocd.wait(
            argocd.Client(fake.url, "t0ken"), TARGET, timeout=0.2, interval=0.05, say=lambda _: None
        )
    message = str(err.value)
    assert "did not run the release within 0 s" in message
    assert f"live digest {OLD[:19]} (release {NEW[:19]})" in message


def test_degraded_is_reported_with_its_state(argo) -> None:
    fake = argo([("Synced", "Degraded", NEW)])
    with pytest.raises(GateError, match="sync Synced, health Degraded"):
        argocd.wait(
            argocd.Client(fake.url, "t0ken"), TARGET, timeout=0.1, interval=0.05, say=lambda _: None
        )


def test_refused_credentials_and_an_unreachable_server_are_infrastructure_errors(argo) -> None:
    fake = argo([("Synced", "Healthy", NEW)], token="right")
    with pytest.raises(InfraError, match=r"refused the credentials .HTTP 401.*ARGOCD_AUTH_TOKEN"):
        argocd.wait(argocd.Client(fake.url, "wrong"), TARGET, timeout=1, say=lambda _: None)
    fake.close()
    with pytest.raises(InfraError, match="unreachable"):
        argocd.wait(
            argocd.Client(fake.url, "right", timeout=1), TARGET, timeout=1, say=lambda _: None
        )


def test_the_target_comes_from_the_committed_application_and_deployment(tmp_path: Path) -> None:
    (tmp_path / "environments" / "staging" / "argocd").mkdir(parents=True)
    (tmp_path / "environments" / "staging" / "argocd" / "application.yaml").write_text(
        "metadata:\n  name: app-staging\n  namespace: argocd\n"
    )
    manifests = tmp_path / "environments" / "staging" / "manifests"
    manifests.mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"deployment\.yaml: missing"):
        argocd.target_for("staging", tmp_path)
    (manifests / "deployment.yaml").write_text(
        f"metadata:\n  name: srv\n  namespace: ns\n  annotations:\n"
        f'    {argocd.DIGEST_ANNOTATION}: "{NEW}"\n'
    )
    assert argocd.target_for("staging", tmp_path) == argocd.Target(
        "app-staging", "argocd", "srv", "ns", NEW
    )


def test_a_canary_environment_is_followed_through_its_rollout(tmp_path: Path) -> None:
    (tmp_path / "environments" / "prod" / "argocd").mkdir(parents=True)
    (tmp_path / "environments" / "prod" / "argocd" / "application.yaml").write_text(
        "metadata:\n  name: app-prod\n  namespace: argocd\n"
    )
    manifests = tmp_path / "environments" / "prod" / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "rollout.yaml").write_text(
        f"apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: srv\n"
        f'  namespace: ns\n  annotations:\n    {argocd.DIGEST_ANNOTATION}: "{NEW}"\n'
    )
    target = argocd.target_for("prod", tmp_path)
    assert (target.kind, target.group, target.version) == ("Rollout", "argoproj.io", "v1alpha1")
    assert (target.deployment, target.digest) == ("srv", NEW)


def test_without_a_server_it_does_not_wait_and_without_a_token_it_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("ARGOCD_SERVER", raising=False)
    assert argocd.main(["wait", "--env", "staging"]) == 0
    assert "No Argo CD server configured" in capsys.readouterr().out
    monkeypatch.setenv("ARGOCD_SERVER", "https://argocd.example.com")
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "")
    assert argocd.main(["wait", "--env", "staging"]) == 2
    assert "ARGOCD_AUTH_TOKEN is empty" in capsys.readouterr().err
