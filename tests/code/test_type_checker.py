"""The type checker's settings: strict on the bottom layers (core, store), basic above them.

mypy cannot scope `strict = true` to some modules (in an override it turns strict on for every
module), so pyproject.toml lists the strict flags one by one. These tests fail when that list
falls behind what `mypy --strict` means in the locked mypy, and show on throw-away files that
the bottom layers really are held to it while a stage package is not.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from mypy.main import process_options
from mypy.options import PER_MODULE_OPTIONS, Options

from core.paths import REPO_ROOT

PYPROJECT = REPO_ROOT / "pyproject.toml"


def _options(*args: str) -> Options:
    # A file on the command line stands in for `files` (mypy refuses both with `-c`).
    _, options = process_options([*args, str(REPO_ROOT / "core" / "paths.py")])
    return options


@pytest.fixture
def ours(monkeypatch: pytest.MonkeyPatch) -> Options:
    monkeypatch.delenv("MYPY_CONFIG_FILE_DIR", raising=False)  # mypy sets it when it reads one
    return _options("--config-file", str(PYPROJECT))


def _strict_flags() -> dict[str, object]:
    """The per-module settings `--strict` changes, with the value it gives each."""
    strict, plain = (_options(*flags, "--config-file", "") for flags in (["--strict"], []))
    return {
        name: getattr(strict, name)
        for name in PER_MODULE_OPTIONS
        if getattr(strict, name, None) != getattr(plain, name, None)
    }


@pytest.mark.parametrize("module", ["core", "core.uris", "store", "store.oci", "store.rows"])
def test_the_bottom_layers_get_every_strict_flag(ours: Options, module: str) -> None:
    flags = _strict_flags()
    assert "disallow_untyped_defs" in flags  # what strict means has not changed shape
    settings = ours.clone_for_module(module)
    missing = {name for name, value in flags.items() if getattr(settings, name) != value}
    assert not missing, f"{module} is not checked with these strict flags: {sorted(missing)}"


@pytest.mark.parametrize("module", ["models.trainer", "delivery.rules", "tests.support.replay"])
def test_the_stage_packages_are_checked_in_basic_mode(ours: Options, module: str) -> None:
    settings = ours.clone_for_module(module)
    assert not settings.disallow_untyped_defs and settings.implicit_reexport
    assert settings.check_untyped_defs  # the bodies of unannotated functions are still checked


def test_an_unannotated_function_fails_only_in_core_and_store(tmp_path: Path) -> None:
    """mypy itself, on copies of one module placed in three packages."""
    source = 'def double(x):\n    checked: int = "text"\n    return x * 2\n'
    for package in ("core", "store", "delivery"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / "probe.py").write_text(source)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(PYPROJECT),
            "--cache-dir",
            str(tmp_path / "cache"),
            "core/probe.py",
            "store/probe.py",
            "delivery/probe.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = set(re.findall(r"^(\S+?):\d+: error: .*\[([a-z-]+)\]$", run.stdout, re.M))
    assert errors == {
        ("core/probe.py", "no-untyped-def"),
        ("core/probe.py", "assignment"),
        ("store/probe.py", "no-untyped-def"),
        ("store/probe.py", "assignment"),
        ("delivery/probe.py", "assignment"),  # basic, but the body is still checked
    }, run.stdout
