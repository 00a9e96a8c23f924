"""pipeline-image.yml: build the image once per change, compile by its digest, submit with OIDC."""

from __future__ import annotations

import pytest

from tests.delivery.test_workflows import load, runs
from tests.support import replay as rp
from tests.support.replay import Lenient, Scope

NAME = "pipeline-image.yml"
VERTEX_VARS = {"GCP_PROJECT": "acme-ml", "GCP_WORKLOAD_IDENTITY_PROVIDER": "projects/1/x"}


def uses(job: dict, action: str) -> dict:
    return next(s for s in job["steps"] if s.get("uses", "").startswith(action + "@"))


@pytest.mark.parametrize(
    ("ref", "changed", "starts"),
    [
        ("refs/heads/main", ["requirements.lock"], True),
        ("refs/heads/main", ["models/preprocessing.py"], True),
        ("refs/heads/main", ["infra/pipeline-image/Dockerfile"], True),
        ("refs/heads/main", ["README.md", "docs/pipeline.md", "tests/code/test_x.py"], False),
        ("refs/heads/main", ["environments/staging/release.yaml"], False),
        ("refs/heads/feature", ["core/config.py"], False),
    ],
)
def test_the_image_is_built_on_main_when_the_lock_or_the_code_changes(
    ref: str, changed: list[str], starts: bool
) -> None:
    assert rp.triggers(NAME, "push", ref, changed) is starts


def test_the_image_is_pushed_to_ghcr_with_a_layer_cache_and_provenance() -> None:
    job = load(NAME)["jobs"]["image"]
    assert job["permissions"] == {
        "contents": "read",
        "packages": "write",
        "attestations": "write",
        "id-token": "write",
    }
    assert runs(job) == ["make pipeline-image-name"]
    uses(job, "docker/setup-buildx-action")
    assert uses(job, "docker/login-action")["with"]["registry"] == "ghcr.io"
    build = uses(job, "docker/build-push-action")["with"]
    assert build["file"] == "infra/pipeline-image/Dockerfile" and build["push"] is True
    assert build["cache-from"].startswith("type=gha") and "type=gha" in build["cache-to"]
    assert "mode=max" in build["cache-to"]
    attest = uses(job, "actions/attest-build-provenance")["with"]
    assert attest["subject-digest"] == "${{ steps.build.outputs.digest }}"
    assert job["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"


def test_staging_and_prod_compile_against_the_pushed_digest_and_upload_the_json() -> None:
    job = load(NAME)["jobs"]["compile"]
    assert job["needs"] == "image" and job["permissions"] == {"contents": "read"}
    image = "${{ needs.image.outputs.name }}@${{ needs.image.outputs.digest }}"
    assert job["env"]["PIPELINE_IMAGE"] == image
    assert runs(job) == ["make compile"]
    upload = uses(job, "actions/upload-artifact")["with"]
    assert upload["path"].split() == ["build/staging/pipeline.json", "build/prod/pipeline.json"]
    assert upload["if-no-files-found"] == "error"


@pytest.mark.parametrize("configured", [True, False])
def test_submission_runs_with_oidc_only_when_the_repository_sets_its_variables(
    configured: bool,
) -> None:
    jobs = load(NAME)["jobs"]
    scope = Scope({"vars": Lenient(VERTEX_VARS if configured else {})})
    submit, notice = jobs["submit-staging"], jobs["submit-skipped"]
    assert scope.condition(submit["if"]) is configured
    assert scope.condition(notice["if"]) is not configured
    assert runs(notice) == ["make vertex-notice"]
    assert submit["permissions"] == {"contents": "read", "id-token": "write"}
    order = [s.get("uses", "").split("@")[0] or s["run"] for s in submit["steps"]]
    assert order.index("google-github-actions/auth") < order.index("make submit ENV=staging")
    assert order.index("actions/download-artifact") < order.index("make submit ENV=staging")
    assert submit["env"]["GCP_PROJECT"] == "${{ vars.GCP_PROJECT }}"
    assert "needs.image.outputs.digest" in submit["env"]["PIPELINE_IMAGE"]
