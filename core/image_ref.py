"""The pipeline image of a cloud environment: a reference by digest, never a moving tag.

Vertex AI pulls `orchestration.image` for every component of every run; a tag such as `:latest`
can point at a different build between two runs of the same compiled pipeline, so staging and
prod name the exact build CI published (`image@sha256:<digest>`).
"""

from __future__ import annotations

import re

_PINNED = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
# The committed default (environments/cloud.yaml) until CI's build sets PIPELINE_IMAGE: it
# compiles offline, and `mlops submit` refuses it.
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
VARIABLE = "PIPELINE_IMAGE"


def is_pinned(image: str) -> bool:
    return bool(_PINNED.match(image))


def is_placeholder(image: str) -> bool:
    return image.endswith("@" + PLACEHOLDER_DIGEST)


def digest_of(image: str) -> str:
    """`sha256:<hex>` of a pinned reference, '' otherwise."""
    return image.rpartition("@")[2] if is_pinned(image) else ""


def unpinned_message(image: str) -> str:
    return (
        f"{image!r} is not pinned by digest; a kubeflow_v2 environment runs the exact image CI "
        f"built, written IMAGE@sha256:<64 hex digits>. Take the digest from the ci workflow's "
        f"pipeline-image job (its `digest` output, also in its summary) or from "
        f"`skopeo inspect --format '{{{{.Digest}}}}' docker://IMAGE:TAG`, and set it here or in "
        f"the {VARIABLE} variable"
    )
