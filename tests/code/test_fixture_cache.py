"""The session fixtures' disk cache (tests/support/fixture_cache.py): a hit only for the same
inputs and code, never a half-built entry, and an edit always builds afresh."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import fixture_cache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setattr(fixture_cache, "ROOT", root)
    return root


def test_an_entry_is_built_once_and_then_read(cache: Path) -> None:
    builds: list[Path] = []

    def build(out: Path) -> None:
        builds.append(out)
        (out / "result").write_text("42")

    first = fixture_cache.entry("thing", "abc", build)
    second = fixture_cache.entry("thing", "abc", build)
    assert first == second and (first / "result").read_text() == "42"
    assert len(builds) == 1


def test_a_build_that_fails_leaves_no_entry_and_the_next_call_builds_again(cache: Path) -> None:
    def broken(out: Path) -> None:
        (out / "half").write_text("")
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        fixture_cache.entry("thing", "abc", broken)
    assert list((cache / "thing").iterdir()) == []
    built = fixture_cache.entry("thing", "abc", lambda out: (out / "whole").write_text(""))
    assert (built / "whole").is_file() and not (built / "half").exists()


def test_an_entry_without_its_completion_mark_is_rebuilt(cache: Path) -> None:
    built = fixture_cache.entry("thing", "abc", lambda out: (out / "v").write_text("1"))
    (built / fixture_cache.COMPLETE).unlink()
    again = fixture_cache.entry("thing", "abc", lambda out: (out / "v").write_text("2"))
    assert (again / "v").read_text() == "2"


def test_older_entries_are_pruned_to_the_newest_few(cache: Path) -> None:
    for i in range(fixture_cache.KEEP + 2):
        built = fixture_cache.entry("thing", f"k{i}", lambda out: None)
        os.utime(built, (i, i))
    other = fixture_cache.entry("thing-other", "k0", lambda out: None)
    os.utime(other, (0, 0))
    kept = sorted(p.name for p in (cache / "thing").iterdir())
    assert kept == [f"k{i}" for i in range(2, fixture_cache.KEEP + 2)]
    assert other.is_dir(), "another fixture's entries are not this one's to prune"


def test_the_key_changes_with_the_values_and_with_a_files_bytes(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    base = fixture_cache.key([1, 2], {"lr": 0.1}, files=[data])
    assert fixture_cache.key([1, 2], {"lr": 0.1}, files=[data]) == base
    assert fixture_cache.key([1, 3], {"lr": 0.1}, files=[data]) != base
    assert fixture_cache.key([1, 2], {"lr": 0.2}, files=[data]) != base
    data.write_text("a,b\n1,3\n")
    assert fixture_cache.key([1, 2], {"lr": 0.1}, files=[data]) != base


def test_the_key_covers_the_project_code_the_fixtures_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit to the preprocessing code (a planted fault, say) must not be served a stale run."""
    root = tmp_path / "repo"
    for package in fixture_cache.PACKAGES:
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    code = root / "models" / "preprocessing.py"
    code.write_text("def preprocessing_fn(inputs):\n    return inputs\n")
    monkeypatch.setattr(fixture_cache, "REPO_ROOT", root)
    monkeypatch.setattr(fixture_cache, "HELPERS", ())
    base = fixture_cache.key("rows")
    code.write_text("def preprocessing_fn(inputs):\n    return {}\n")
    assert fixture_cache.key("rows") != base


def test_a_mutation_run_and_the_switch_turn_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUTANT_UNDER_TEST", raising=False)
    monkeypatch.delenv("MLOPS_TEST_CACHE", raising=False)
    assert fixture_cache.enabled()
    monkeypatch.setenv("MLOPS_TEST_CACHE", "0")
    assert not fixture_cache.enabled()
    monkeypatch.delenv("MLOPS_TEST_CACHE")
    monkeypatch.setenv("MUTANT_UNDER_TEST", "models.x__mutmut_1")
    assert not fixture_cache.enabled()
