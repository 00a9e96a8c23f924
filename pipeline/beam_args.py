"""The Beam arguments a pipeline runs with: the environment's, plus what a local run needs.

Every Beam-based TFX component (CsvExampleGen, StatisticsGen, Transform, Evaluator) builds a
source package of TFX itself (`python setup.py sdist`, about 3 s each, five times per cold run)
to ship to remote Beam workers, unless the arguments already name how workers get their
dependencies. Beam's DirectRunner runs in this process (or in local subprocesses of this
interpreter), which already has TFX installed, so a local run names its own environment and
nothing is built. Environments that set a runner (Dataflow, a portable runner) keep their
arguments as they are.
"""

from __future__ import annotations

from core.config import EnvironmentConfig

# The flags TFX checks before it builds its package (tfx/utils/dependency_utils.py).
DEPENDENCY_FLAGS = (
    "--extra_package",
    "--extra_packages",
    "--setup_file",
    "--requirements_file",
    "--worker_harness_container_image",
    "--sdk_container_image",
)
# Read only by runners that start containers; the DirectRunner ignores it.
LOCAL_ENVIRONMENT = "--sdk_container_image=local-python-environment-of-the-direct-runner"


def _names(args: list[str]) -> set[str]:
    return {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}


def pipeline_beam_args(cfg: EnvironmentConfig) -> list[str]:
    """`orchestration.beam_args`, plus LOCAL_ENVIRONMENT for a local run on the DirectRunner."""
    args = list(cfg.orchestration.beam_args)
    runner = next((a.split("=", 1)[1] for a in args if a.startswith("--runner=")), "DirectRunner")
    local = cfg.orchestration.runner == "local" and runner in ("DirectRunner", "direct")
    if local and not _names(args) & set(DEPENDENCY_FLAGS):
        args.append(LOCAL_ENVIRONMENT)
    return args
