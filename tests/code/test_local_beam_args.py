"""A local run on the DirectRunner tells TFX its workers have TFX already, so nothing is built."""

from __future__ import annotations

import dataclasses
import os

import pytest

from core import config
from pipeline.beam_args import LOCAL_ENVIRONMENT, pipeline_beam_args


def _with_beam_args(env: str, args: list[str]):
    cfg = config.load(env)
    orchestration = dataclasses.replace(cfg.orchestration, beam_args=args)
    return dataclasses.replace(cfg, orchestration=orchestration)


def test_a_local_run_names_its_own_environment() -> None:
    cfg = config.load("dev")
    assert pipeline_beam_args(cfg) == [*cfg.orchestration.beam_args, LOCAL_ENVIRONMENT]


@pytest.mark.parametrize(
    "args",
    [
        ["--runner=DataflowRunner", "--project=p", "--region=r"],
        ["--runner=PortableRunner", "--job_endpoint=localhost:8099"],
        ["--setup_file=./setup.py"],
        ["--extra_package=dist/models.tar.gz"],
    ],
)
def test_other_runners_and_stated_dependencies_are_left_alone(args: list[str]) -> None:
    assert pipeline_beam_args(_with_beam_args("dev", args)) == args


def test_a_vertex_compile_gets_the_environments_arguments_only(monkeypatch) -> None:
    monkeypatch.setitem(os.environ, "GITHUB_REPOSITORY", "acme/taxi")
    cfg = config.load("staging")
    assert pipeline_beam_args(cfg) == list(cfg.orchestration.beam_args)
