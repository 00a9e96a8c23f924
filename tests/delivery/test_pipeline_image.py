"""The pipeline image (infra/pipeline-image/): linted, non-root, exactly the lock.

There is no Docker daemon where these tests run, so the image itself is built only in CI; the
slow test runs the Dockerfile's own install script in a plain venv instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import tomllib

from core.paths import REPO_ROOT

IMAGE_DIR = REPO_ROOT / "infra" / "pipeline-image"
DOCKERFILE = IMAGE_DIR / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            out.append((keyword.upper(), " ".join(rest.split())))
            pending = ""
    return out


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HADOLINT), str(path)], capture_output=True, text=True, timeout=60)


def test_hadolint_passes_the_dockerfile() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_bites(tmp_path: Path) -> None:
    """The lint would catch a moving base image, so its silence above means something."""
    planted = tmp_path / "Dockerfile"
    planted.write_text(DOCKERFILE.read_text().replace("python:3.11-slim-bookworm", "python:latest"))
    result = hadolint(planted)
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in instructions(DOCKERFILE.read_text()) if keyword == "USER"]
    assert users, "the Dockerfile never sets USER, so the image runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_image_is_a_slim_python_311_with_exactly_the_lock() -> None:
    steps = instructions(DOCKERFILE.read_text())
    bases = [args for keyword, args in steps if keyword == "FROM"]
    assert len(bases) == 1 and bases[0].startswith("python:3.11-slim")
    runs = [args for keyword, args in steps if keyword == "RUN"]
    # The lock before the source: its layer is reused from the build cache.
    assert runs[0] == "sh /app/infra/pipeline-image/install.sh lock /app"
    assert runs[1].startswith("sh /app/infra/pipeline-image/install.sh project /app")
    script = (IMAGE_DIR / "install.sh").read_text()
    assert "--no-deps --require-hashes --compile-bytecode" in script
    assert '-r "$src/requirements.lock"' in script
    assert "--no-deps --no-build-isolation --no-index -e" in script


def test_the_image_installs_with_the_uv_that_make_setup_uses() -> None:
    """One installer, one version, hash-checked: the image's uv is the Makefile's UV_VERSION."""
    makefile = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    pin = re.search(
        r"^uv==(\S+) --hash=sha256:[0-9a-f]{64}$", (IMAGE_DIR / "uv.txt").read_text(), re.M
    )
    assert makefile and pin, "UV_VERSION in the Makefile or the hashed uv pin is missing"
    assert pin[1] == makefile[1]


def _allowed() -> list[str]:
    """What Dockerfile.dockerignore lets into the build context (its `!path` lines)."""
    return [
        line[1:].rstrip("/")
        for line in (IMAGE_DIR / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]


def test_the_build_context_holds_every_package_the_project_installs() -> None:
    """A package left out of the context would install, then fail to import in the image."""
    packaging = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    include = packaging["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.removesuffix("*") for pattern in include}
    assert packages - set(_allowed()) == set()


def _context(target: Path) -> Path:
    """The build context the Dockerfile sees: the repository minus Dockerfile.dockerignore
    (its allow-list form: `*`, then `!path` lines)."""
    for name in _allowed():
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                target / name,
                ignore=shutil.ignore_patterns("__pycache__", "manifests", "argocd"),
            )
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.slow
def test_the_install_script_works_in_a_plain_venv(tmp_path: Path) -> None:
    """The Dockerfile's two RUN steps, in a fresh venv of this Python, from the same context."""
    src = _context(tmp_path / "app")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # This machine's pip config may add constraints; the image has none.
    env = {**os.environ, "PYTHON": str(python), "PIP_CONSTRAINT": ""}
    for step in ("lock", "project"):
        result = subprocess.run(
            ["sh", str(src / "infra/pipeline-image/install.sh"), step, str(src)],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    check = subprocess.run(
        [
            str(env_dir / "bin" / "mlops"),
            "compile",
            "--env",
            "staging",
        ],
        cwd=tmp_path,
        env={**os.environ, "GITHUB_REPOSITORY": "acme/taxi"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert (src / "build" / "staging" / "pipeline.json").is_file()


def test_make_pipeline_image_without_docker_says_where_the_image_is_built(tmp_path: Path) -> None:
    """A laptop without Docker gets an answer it can act on (exit 3), not make's 'not found'."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "sh", "bash"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    done = subprocess.run(
        ["make", "--no-print-directory", "pipeline-image"],
        cwd=REPO_ROOT,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr  # make's own status when a recipe fails
    assert "exit 3" not in done.stderr and "Error 3" in done.stderr
    assert "no docker command here" in done.stderr and "pipeline-image.yml" in done.stderr
