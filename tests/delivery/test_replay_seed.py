"""`make demo` then `make test` in one checkout: the replayed flows seed their `origin` from the
commit, so the demo's local release never becomes the flow's baseline.

The demo leaves an untracked `environments/dev/release.yaml` naming `build/dev/model_store/...`
(on no runner: the replayed `train` job then stopped with `artifact-exists`) and untracked
manifests; a person may also have edited tracked files. A scratch clone of this repository gets
all of that planted, and the seed must still be exactly HEAD's tree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core import config
from tests.support.seed import tracked_files, write_committed_tree, write_tracked_files

DEMO_RELEASE = """\
environment: dev
current:
  model_name: taxi_tips
  version: 1795491997
  digest: sha256:0a513c6edc1d0000000000000000000000000000000000000000000000000000
  uri: build/dev/model_store/taxi_tips/1795491997
  promoted_from: pipeline
history: []
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def after_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository's HEAD with what `make demo` and a person leave behind."""
    scratch = tmp_path_factory.mktemp("checkout") / "repo"
    _git(scratch.parent, "clone", "--quiet", "--shared", str(config.REPO_ROOT), str(scratch))
    dev = scratch / "environments" / "dev"
    (dev / "release.yaml").write_text(DEMO_RELEASE)
    (dev / "manifests").mkdir(exist_ok=True)
    (dev / "manifests" / "local-only.yaml").write_text("kind: ConfigMap\n")
    (scratch / "build" / "dev" / "model_store").mkdir(parents=True)
    config_file = dev / "config.yaml"
    config_file.write_text(config_file.read_text() + "# an edit not yet committed\n")
    return scratch


def test_the_seed_is_heads_tree_without_the_demos_release(after_demo: Path, tmp_path: Path) -> None:
    status = _git(after_demo, "status", "--porcelain", "--untracked-files=all")
    assert "?? environments/dev/release.yaml" in status  # the demo's release is really there
    assert " M environments/dev/config.yaml" in status

    seed = tmp_path / "seed"
    written = write_committed_tree(after_demo, seed)

    assert not (seed / "environments" / "dev" / "release.yaml").exists()
    assert not (seed / "environments" / "dev" / "manifests" / "local-only.yaml").exists()
    assert not (seed / "build").exists()
    committed = _git(after_demo, "show", "HEAD:environments/dev/config.yaml")
    assert (seed / "environments" / "dev" / "config.yaml").read_text() == committed
    tracked = _git(after_demo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    expected = sorted(n for n in tracked if not n.startswith(("tests/", "build/")))
    assert sorted(written) == expected
    on_disk = sorted(str(p.relative_to(seed)) for p in seed.rglob("*") if p.is_file())
    assert on_disk == expected


def test_the_seed_keeps_committed_executable_bits(after_demo: Path, tmp_path: Path) -> None:
    """The release scripts run as `tools/release-git.sh`, so the mode must survive the seed."""
    seed = tmp_path / "seed"
    write_committed_tree(after_demo, seed)
    modes = _git(after_demo, "ls-tree", "-r", "HEAD").splitlines()
    executables = [line.split("\t", 1)[1] for line in modes if line.startswith("100755")]
    executables = [n for n in executables if not n.startswith(("tests/", "build/"))]
    assert executables, "the template commits executable scripts"
    for name in executables:
        assert (seed / name).stat().st_mode & 0o111, name


def test_the_replays_seed_takes_tracked_files_only(after_demo: Path, tmp_path: Path) -> None:
    """The `machine` seed of test_replay.py: what `git ls-files` lists, never the demo's
    untracked release or manifests (which the replay used to copy with whole folders)."""
    written = write_tracked_files(after_demo, tmp_path, ("environments", ".github"))
    assert set(written) == set(tracked_files(after_demo, ("environments", ".github")))
    assert "environments/dev/config.yaml" in written
    assert not (tmp_path / "environments" / "dev" / "release.yaml").exists()
    assert not (tmp_path / "environments" / "dev" / "manifests" / "local-only.yaml").exists()
    listed = _git(after_demo, "ls-files", "environments", ".github").split()
    assert sorted(written) == sorted(listed)
