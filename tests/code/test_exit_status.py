"""README.md's exit-status table is rendered from the error classes, and each of its rows is what
a real `mlops` command returns: one scenario per way to end with that status, each asserting the
one-line message a user sees (never a traceback)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import ERROR_CLASSES, ConfigError, GateError, InfraError, MlopsError
from mlops import cli, exit_status
from tests.support import ct_data as D
from tests.support import project
from tests.support.project import MODEL
from tests.support.repo import FULL_DATA, copy_environments, update_overlay
from tests.support.servers import free_port
from tests.support.stores import constant_saved_model, fake_model

# --- the table ------------------------------------------------------------------------------


def test_the_readme_table_is_the_one_rendered_from_the_error_classes() -> None:
    readme = exit_status.README.read_text()
    assert exit_status.readme_block(readme) == exit_status.block(), (
        "README.md's exit-status table differs from core/errors.py; run "
        "`.venv/bin/python -m mlops.exit_status --write`"
    )


def test_a_changed_class_changes_its_row(monkeypatch) -> None:
    """The table follows the classes: what a class says is what its row says."""
    monkeypatch.setattr(ConfigError, "meaning", "a planted meaning")
    monkeypatch.setattr(InfraError, "exit_code", 5)
    rows = {s.code: s for s in exit_status.statuses()}
    assert rows[2].meaning == "a planted meaning" and 3 not in rows
    assert rows[5].meaning == InfraError.meaning
    assert exit_status.block() not in exit_status.README.read_text()


def test_write_puts_the_table_between_the_markers(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{exit_status.BEGIN}\n| stale |\n{exit_status.END}\nrest\n")
    assert exit_status.write(readme) is True
    assert readme.read_text() == f"intro\n{exit_status.block()}\nrest\n"
    assert exit_status.write(readme) is False
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="expected exactly one exit-status table"):
        exit_status.write(readme)


def _subclasses(cls: type[MlopsError]) -> set[type[MlopsError]]:
    return {cls, *(c for sub in cls.__subclasses__() for c in _subclasses(sub))}


def test_every_error_class_the_cli_can_raise_has_a_row() -> None:
    import components.data_gate  # noqa: F401  (raised inside the pipeline, not imported by it)
    import models.trainer  # noqa: F401

    documented = {s.code for s in exit_status.statuses()}
    for cls in _subclasses(MlopsError):
        assert cls.exit_code in documented, cls
    assert set(ERROR_CLASSES) <= _subclasses(MlopsError)
    assert {s.code: s.meaning for s in exit_status.statuses()} == cli.EXIT_CODES
    assert set(cli.EXIT_CODES) == {0, 1, 2, 3, 4, 130}
    assert (GateError.exit_code, ConfigError.exit_code, InfraError.exit_code) == (1, 2, 3)
    assert "gate" in cli.EXIT_CODES[1] and "infrastructure" in cli.EXIT_CODES[3]
    assert "no retrain" in cli.EXIT_CODES[4] and cli.NO_RETRAIN == 4


# --- one real command per way to end with each status ----------------------------------------

Outcome = tuple[int, str]  # exit status, stdout + stderr


def _main(capsys: pytest.CaptureFixture, *argv: str) -> Outcome:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def _rows(tmp_path: Path) -> Path:
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:3]) + "\n")
    return rows


def _released_ct(tmp_path: Path, model: Path) -> tuple[Path, Path]:
    """dev released now on spans 1-2 of a data copy (samples of the bundled spans)."""
    environments = copy_environments(tmp_path)
    data = tmp_path / "data"
    for number in (1, 2):
        D.write_span(data, number, D.benign(D.bundled_span(number), 1200, seed=number))
    D.write_dev_release(environments, model, data)
    return environments, data


def _ct_check(capsys, tmp_path: Path, environments: Path, data: Path) -> Outcome:
    return _main(
        capsys,
        "--environments",
        str(environments),
        "ct",
        "check",
        "--env",
        "dev",
        "--data",
        str(data),
        "--output",
        str(tmp_path / "work"),
    )


def success(tmp_path: Path, capsys) -> Outcome:
    code, text = _main(capsys, "config", "--env", "dev")
    assert "dev: ok (" in text
    return code, text


def gate_refusal(tmp_path: Path, capsys) -> Outcome:
    environments = copy_environments(tmp_path)
    code, text = _main(capsys, "--environments", str(environments), "promote", "--to", "prod")
    assert "mlops promote: stopped: refused (stage-order): prod takes releases from" in text
    return code, text


def step_failure(tmp_path: Path, capsys) -> Outcome:
    code, text = _main(
        capsys, "serve", "--env", "dev", "--output", str(tmp_path / "empty"), "--detach"
    )
    assert "mlops serve: error: no model version in" in text
    return code, text


def url_without_scheme(tmp_path: Path, capsys) -> Outcome:
    code, text = _main(
        capsys, "predict", "--env", "dev", "--rows", str(_rows(tmp_path)), "--url", "localhost:8501"
    )
    assert (
        "--url 'localhost:8501': a REST URL starts with http:// or https:// and names a host, "
        "e.g. 'http://localhost:8501'"
    ) in text
    assert "unknown url type" not in text
    return code, text


def version_the_store_lacks(tmp_path: Path, capsys) -> Outcome:
    out = tmp_path / "out"
    fake_model(out / "model_store" / MODEL / "1001", 1001)
    rows = str(_rows(tmp_path))
    argv = ["predict", "--env", "dev", "--rows", rows, "--output", str(out), "--model-version"]
    code, text = _main(capsys, *argv, "123")
    assert (
        f"--model-version: version 123 is not in the model store "
        f"{out / 'model_store' / MODEL} (versions there: 1001)"
    ) in text
    assert "cannot reach the server" not in text  # refused before any request
    return code, text


def non_numeric_fare_in_a_span(tmp_path: Path, capsys) -> Outcome:
    environments, data = _released_ct(tmp_path, fake_model(tmp_path / "model", 1))
    rows = D.benign(D.bundled_span(2), 1200, seed=3)
    rows[4]["fare"] = "twelve"
    path = D.write_span(data, 3, rows)
    with project.taxi_sample(environments):  # taxi rows, judged as the taxi sample
        code, text = _ct_check(capsys, tmp_path, environments, data)
    # The pipeline's data gate judges the new span first, as `mlops run` would (exit 1): a
    # retrain would stop at the same gate, so ct check refuses the span rather than retraining.
    assert "new span 3 refused by the data gate: fare:" in text, text
    assert str(path.parent) in text
    return code, text


def run_on_an_empty_folder(tmp_path: Path, capsys) -> Outcome:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, text = _main(
        capsys, "run", "--env", "dev", "--data", str(empty), "--output", str(tmp_path / "o")
    )
    assert (
        f"mlops run: error: data.root {empty} holds no span: nothing matches "
        f"data.input_pattern 'span-{{SPAN}}/*.csv'"
    ) in text
    assert "ValueError" not in text and "CsvExampleGen" not in text
    return code, text


def rest_server_unreachable(tmp_path: Path, capsys) -> Outcome:
    url = f"http://127.0.0.1:{free_port()}"
    code, text = _main(
        capsys, "predict", "--env", "dev", "--rows", str(_rows(tmp_path)), "--url", url
    )
    assert f"{url}/v1/models/{MODEL}:predict: cannot reach the server" in text
    return code, text


def grpc_server_unreachable(tmp_path: Path, capsys) -> Outcome:
    target = f"127.0.0.1:{free_port()}"
    argv = ["predict", "--env", "dev", "--rows", str(_rows(tmp_path)), "--protocol", "grpc"]
    code, text = _main(capsys, *argv, "--url", target)
    assert f"{target}: gRPC UNAVAILABLE" in text and "is the server running?" in text
    return code, text


def loadtest_server_unreachable(tmp_path: Path, capsys) -> Outcome:
    url = f"http://127.0.0.1:{free_port()}"
    argv = ["loadtest", "--env", "dev", "--rows", str(_rows(tmp_path)), "--url", url]
    code, text = _main(capsys, *argv, "--output", str(tmp_path / "out"))
    assert "mlops loadtest: error: no model server answers:" in text
    assert "cannot reach the server" in text
    return code, text


def no_retrain(tmp_path: Path, capsys) -> Outcome:
    """No new span, no drift (span 2 against spans 1-2), a fresh release, and a decay bound that
    any model meets: a floor of 0, or for a lower-is-better metric (rmse) a ceiling far above."""
    from core import config
    from core.metrics import lower_is_better

    environments, data = _released_ct(tmp_path, constant_saved_model(tmp_path / "model"))
    metric = config.load("dev", environments).evaluation.metric
    bound = {"decay_ceiling": 1e12} if lower_is_better(metric) else {"decay_floor": 0.0}
    update_overlay(environments, "dev", {"continuous_training": bound})
    code, text = _ct_check(capsys, tmp_path, environments, data)
    assert "dev: no retrain" in text and "decay not measured" in text
    return code, text


def interrupted(tmp_path: Path, capsys) -> Outcome:
    """SIGINT while `predict` waits on a server that accepted the connection but never answers."""
    rows = str(_rows(tmp_path))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(120)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlops.cli",
                "predict",
                "--env",
                "dev",
                "--url",
                url,
                "--rows",
                rows,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            connection = _predict_request(listener)  # the request is in flight
            with connection:
                time.sleep(0.5)
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert "mlops predict: interrupted" in err and "Traceback" not in err
    return proc.returncode, out + err


def _predict_request(listener: socket.socket) -> socket.socket:
    """The connection that carries predict's request. Any other client that finds the
    ephemeral port (a poller some earlier test left behind) is hung up on, so the SIGINT never
    lands while predict is still starting."""
    while True:
        connection, _ = listener.accept()
        connection.settimeout(60)
        if b":predict" in connection.recv(65536).split(b"\r\n", 1)[0]:
            return connection
        connection.close()


SCENARIOS: dict[int, list[Callable[[Path, pytest.CaptureFixture], Outcome]]] = {
    0: [success],
    1: [gate_refusal, step_failure, non_numeric_fare_in_a_span],
    2: [url_without_scheme, version_the_store_lacks, run_on_an_empty_folder],
    3: [rest_server_unreachable, grpc_server_unreachable, loadtest_server_unreachable],
    4: [no_retrain],
    130: [interrupted],
}


def test_every_row_has_a_scenario() -> None:
    assert set(SCENARIOS) == {s.code for s in exit_status.statuses()}


@pytest.mark.parametrize(
    ("code", "scenario"),
    [(code, scenario) for code, scenarios in SCENARIOS.items() for scenario in scenarios],
    ids=lambda x: x.__name__ if callable(x) else str(x),
)
def test_each_row_is_what_a_real_command_returns(tmp_path, capsys, code, scenario) -> None:
    returned, text = scenario(tmp_path, capsys)
    assert returned == code, text
    assert "Traceback" not in text and "unexpected failure" not in text
    if code not in (0, 4):  # one message line after the command name, on stderr
        errors = [line for line in text.splitlines() if line.startswith("mlops ")]
        assert len([e for e in errors if not e.startswith("mlops: ")]) == 1, text
