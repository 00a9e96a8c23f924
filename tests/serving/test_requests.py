"""What `mlops predict` and `mlops loadtest` send, and where: decided in serving/, not the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core import config
from core.config import BatchingConfig
from core.errors import ConfigError
from mlops import cli
from serving import loadtest
from serving.backends import server_urls
from serving.client import predict_in_batches
from tests.support.repo import FULL_DATA, update_overlay


class _Recorder:
    """A client that answers each request with the row numbers it was sent, and counts them."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.sent = 0

    def predict(self, examples: Sequence[bytes], *, version: int | None = None) -> np.ndarray:
        self.sizes.append(len(examples))
        rows = np.arange(self.sent, self.sent + len(examples), dtype=np.float32)
        self.sent += len(examples)
        return rows.reshape(-1, 1)


@pytest.mark.parametrize(
    "batching, sizes",
    [
        (BatchingConfig(enabled=True, max_batch_size=16), [16, 4]),
        (BatchingConfig(enabled=False, max_batch_size=16), [20]),
        (BatchingConfig(enabled=True, max_batch_size=32), [20]),
    ],
)
def test_requests_stay_within_the_servers_batch_size(batching, sizes: list[int]) -> None:
    client = _Recorder()
    out = predict_in_batches(client, [b"x"] * 20, batching)  # type: ignore[arg-type]
    assert client.sizes == sizes
    assert out[:, 0].tolist() == list(range(20))  # one row per example, in order


def test_without_a_running_server_the_config_names_the_address(environments: Path) -> None:
    update_overlay(environments, "dev", {"serving": {"host": "10.1.2.3"}})
    cfg = config.load("dev", environments)
    rest, grpc = server_urls(cfg)
    assert rest == f"http://10.1.2.3:{cfg.serving.rest_port}"
    assert grpc == f"10.1.2.3:{cfg.serving.grpc_port}"


def test_the_rows_file_stands_in_for_a_missing_evaluation_split(environments: Path) -> None:
    update_overlay(environments, "dev", {"loadtest": {"rows_file": "rows/missing.csv"}})
    cfg = config.load("dev", environments, output_root=str(environments.parent / "out"))
    assert not loadtest.has_eval_split(cfg)
    source = loadtest.rows_source(cfg, None)
    assert source.where == "loadtest.rows_file" and "No evaluation split of dev" in source.note
    with pytest.raises(ConfigError, match=r"^loadtest\.rows_file: cannot read .*missing\.csv"):
        loadtest.request_examples(cfg, source)
    asked = loadtest.rows_source(cfg, Path("mine.csv"))  # --rows wins, silently
    assert (asked.path, asked.where, asked.note) == (Path("mine.csv"), "--rows", "")


def test_predict_names_the_label_of_the_model(environments: Path, monkeypatch, capsys) -> None:
    rows = environments.parent / "rows.csv"
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:4]) + "\n")
    # A binary model's output (one probability per row), whatever task init configured.
    monkeypatch.setattr("models.features.TASK", "binary")
    monkeypatch.setattr("models.features.LABEL_KEY", "renamed_label")
    monkeypatch.setattr(
        "mlops.commands.predict.predict_in_batches",
        lambda client, examples, batching, version=None: np.full((len(examples), 1), 0.25),
    )
    args = ["--environments", str(environments), "predict", "--env", "dev", "--rows", str(rows)]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.splitlines() == [
        "row  probability(renamed_label)",
        *(f"{i:>3}  0.2500" for i in (1, 2, 3)),
    ]


def test_the_locustfile_takes_the_model_name_from_mlops_only(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    started = subprocess.run(
        [sys.executable, "-c", "import serving.locustfile"],
        env={**env, "MLOPS_REQUEST_BODIES": str(tmp_path / "bodies.json")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "MLOPS_MODEL_NAME is not set" in started.stderr and "mlops loadtest" in started.stderr
