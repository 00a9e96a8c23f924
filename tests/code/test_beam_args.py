"""orchestration.beam_args: checked against Beam's own flags when an environment loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core import beam_args, config
from core.errors import ConfigError
from core.paths import REPO_ROOT
from mlops import cli

DATAFLOW = [
    "--runner=DataflowRunner",
    "--project=acme",
    "--region=europe-west4",
    "--temp_location=gs://acme-tmp/beam",
]


def _with_beam_args(environments: Path, env: str, args: list[str]) -> Path:
    overlay = environments / env / "config.yaml"
    data = yaml.safe_load(overlay.read_text())
    data.setdefault("orchestration", {})["beam_args"] = args
    overlay.write_text(yaml.safe_dump(data))
    return overlay


def test_the_known_flags_are_beams_own() -> None:
    flags = beam_args.introspect_flags()
    # One from each options class the environments and docs use.
    for name in ("runner", "temp_location", "max_num_workers", "direct_num_workers"):
        assert name in flags
    for name in ("flink_master", "spark_master_url", "job_endpoint", "environment_type"):
        assert name in flags
    assert "temp_locaton" not in flags
    assert beam_args.known_flags() == flags  # the cached list is the same list


def test_the_committed_dataflow_environments_pass() -> None:
    for env in ("staging", "prod"):
        values, problems = beam_args.parse(config.load(env).orchestration.beam_args)
        assert problems == [] and values["runner"] == "DataflowRunner"


def test_an_unknown_flag_is_refused_with_file_index_and_a_suggestion(
    environments: Path, capsys: pytest.CaptureFixture
) -> None:
    overlay = _with_beam_args(environments, "dev", ["--direct_num_workers=1", "--temp_locaton=x"])
    with pytest.raises(ConfigError) as err:
        config.load("dev", environments)
    message = str(err.value)
    assert message.startswith(f"{config.show_path(overlay)}: orchestration.beam_args[1]: ")
    assert "--temp_locaton is not a flag of Beam's PipelineOptions" in message
    assert "did you mean --temp_location?" in message
    assert cli.main(["--environments", str(environments), "config", "--env", "dev"]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["--project", "--region", "--temp_location"])
def test_dataflow_needs_project_region_and_temp_location(environments: Path, missing: str) -> None:
    args = [a for a in DATAFLOW if not a.startswith(missing + "=")]
    _with_beam_args(environments, "staging", args)
    with pytest.raises(ConfigError, match=f"needs {missing}=... in beam_args"):
        config.load("staging", environments)


def test_dataflow_needs_a_bucket_for_temp_location(environments: Path) -> None:
    args = [*DATAFLOW[:3], "--temp_location=/tmp/beam"]
    _with_beam_args(environments, "staging", args)
    with pytest.raises(ConfigError, match=r"beam_args\[3\]: .* needs a gs:// --temp_location"):
        config.load("staging", environments)


def test_a_flag_and_its_value_may_be_two_items() -> None:
    values, problems = beam_args.parse(["--runner", "DataflowRunner", *DATAFLOW[1:]])
    assert problems == [] and values["runner"] == "DataflowRunner"
    _, problems = beam_args.parse(["DataflowRunner"])
    assert [p.index for p in problems] == [0]
    assert "is not a flag" in problems[0].message


def test_a_portable_runner_needs_no_dataflow_flags() -> None:
    args = ["--runner=PortableRunner", "--job_endpoint=localhost:8099"]
    args.append("--environment_type=LOOPBACK")
    assert beam_args.parse(args)[1] == []


def test_the_documented_flink_overlay_passes() -> None:
    """docs/pipeline-image.md's Flink example is what config accepts."""
    text = (REPO_ROOT / "docs" / "pipeline-image.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    args = yaml.safe_load(block)["orchestration"]["beam_args"]
    assert args[0] == "--runner=FlinkRunner"
    assert beam_args.parse(args)[1] == []
