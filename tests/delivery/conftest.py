"""A throw-away repository layout (environments/ with each one's manifests and Argo CD
application) with model stores of each kind: local folders, or one repository in a real OCI
registry on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.stores import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


# The registry case is slow (an OCI registry is a server: tests/support/fast_loop.py).
@pytest.fixture(params=["folder", pytest.param("oci", marks=pytest.mark.slow)])
def any_repo(request, tmp_path: Path) -> Repo:
    """The same rules against each store kind."""
    if request.param == "folder":
        return Repo(tmp_path / "repo")
    registry = request.getfixturevalue("registry")
    return Repo(tmp_path / "repo", registry.store_uri(f"t{os.getpid()}/{tmp_path.name}".lower()))


@pytest.fixture
def registry_repo(registry, tmp_path: Path) -> Repo:
    """Every environment in one repository of a real registry, each with its own tag. Not
    named for the store kind, so `make mutate` (which skips the `oci` variants) runs it."""
    return Repo(tmp_path / "repo", registry.store_uri(f"steps/{tmp_path.name}".lower()))
