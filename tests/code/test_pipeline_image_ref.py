"""A cloud environment's pipeline image: pinned by digest, or config refuses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import config, image_ref
from core.errors import ConfigError

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/acme/taxi/pipeline:latest",
        "ghcr.io/acme/taxi/pipeline",
        "ghcr.io/acme/taxi/pipeline@sha256:abc",  # not a whole digest
        "ghcr.io/acme/taxi/pipeline@sha256:" + "AB" * 32,  # digests are lower-case hex
    ],
)
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_a_tag_without_a_digest_is_refused_with_how_to_get_one(
    environments: Path, monkeypatch: pytest.MonkeyPatch, env: str, image: str
) -> None:
    monkeypatch.setenv(image_ref.VARIABLE, image)
    with pytest.raises(ConfigError) as err:
        config.load(env, environments)
    message = str(err.value)
    assert message.startswith(f"{config.show_path(environments / 'cloud.yaml')}: ")
    assert f"orchestration.image: {image!r} is not pinned by digest" in message
    assert "pipeline-image job" in message and "skopeo inspect" in message
    assert image_ref.VARIABLE in message


@pytest.mark.parametrize("image", [f"ghcr.io/acme/taxi/pipeline@{DIGEST}", f"x/p:1.0@{DIGEST}"])
def test_a_digest_from_the_variable_is_what_compiles(
    monkeypatch: pytest.MonkeyPatch, image: str
) -> None:
    monkeypatch.setenv(image_ref.VARIABLE, image)
    cfg = config.load("staging")
    assert cfg.orchestration.image == image
    assert image_ref.digest_of(image) == DIGEST


def test_without_the_variable_the_placeholder_digest_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(image_ref.VARIABLE, raising=False)
    image = config.load("prod").orchestration.image
    assert image_ref.is_pinned(image) and image_ref.is_placeholder(image)


def test_a_local_environment_needs_no_image() -> None:
    assert config.load("dev").orchestration.image == ""
