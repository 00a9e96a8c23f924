"""Version labels the way upstream's ServerCore handles them (server_core.cc,
UpdateModelVersionLabelMap): a label may only point at a loaded version, at start and on every
config reload, unless --allow_version_labels_for_unavailable_models, which covers new labels only.

The rendered models.config of a release labels it `stable` before the server has loaded it, so
server_flags must set that flag; a label move to a version not yet loaded takes two config
changes (serve both, then move the label).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from core import config
from serving import backends
from serving import config_files as C
from store.model_store import publish_atomically
from tests.support.servers import (
    MODEL,
    free_port,
    make_environment,
    needs,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.slow
REFUSAL = (
    f"Request to assign label to version 1 of model {MODEL}, which is not currently "
    f"available for inference"
)


def _standin(tmp_path: Path, store: Path, allow: bool) -> tuple[subprocess.Popen, str]:
    rest, grpc = free_port(), free_port()
    env = make_environment(tmp_path / "envs", serving={"rest_port": rest, "grpc_port": grpc})
    cfg = config.load("dev", env)
    files = C.render(cfg, str(store), versions=[1], labels={"stable": 1})
    C.write(files, tmp_path / "serving")
    flags = C.server_flags(cfg, str(tmp_path / "serving"), files, grpc, rest)
    if not allow:
        flags.remove("--allow_version_labels_for_unavailable_models=true")
    proc = subprocess.Popen(
        [sys.executable, "-m", "serving.standin.server", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, f"http://127.0.0.1:{rest}"


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def test_a_release_config_starts_only_with_the_flag_server_flags_sets(tmp_path, trained) -> None:
    store = tmp_path / "store" / MODEL
    store.mkdir(parents=True)
    publish_atomically(trained.export_dir, store, 1)

    refused, _ = _standin(tmp_path / "without", store, allow=False)
    try:
        out, _ = refused.communicate(timeout=120)
    finally:
        if refused.poll() is None:  # it started after all: stop it, the assert says why
            refused.kill()
            out = refused.communicate()[0]
    assert refused.returncode != 0 and REFUSAL in out, out

    proc, url = _standin(tmp_path / "with", store, allow=True)
    try:
        deadline = time.monotonic() + 120
        status, body = 0, dict[str, Any]()
        while time.monotonic() < deadline and status != 200:
            assert proc.poll() is None, proc.communicate()[0]
            status, body = _get(f"{url}/v1/models/{MODEL}/labels/stable/metadata")
            time.sleep(0.5)
        assert status == 200 and body["model_spec"]["version"] == "1", body
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _labelled(url: str) -> str | None:
    status, body = _get(f"{url}/v1/models/{MODEL}/labels/stable/metadata")
    return body["model_spec"]["version"] if status == 200 else None


def _states(url: str) -> dict[str, str]:
    _, body = _get(f"{url}/v1/models/{MODEL}")
    return {s["version"]: s["state"] for s in body.get("model_version_status", [])}


def _wait(check, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.parametrize(
    "backend", [pytest.param(b, marks=needs(b)) for b in backends.available_backends()]
)
def test_moving_a_label_to_an_unloaded_version_is_refused_until_it_is_loaded(
    tmp_path, trained, second_version, backend
) -> None:
    server = start_server(
        tmp_path / "srv", backend, {1: trained.export_dir}, serving={"config_poll_seconds": 1}
    )
    try:
        cfg = config.load("dev", server.environments, output_root=str(server.output))
        folder = server.output / "serving"
        base = C.load_model_server_config(folder / C.MODELS_FILE).model_config_list.config[0]
        url = server.rest_url

        def write(versions: list[int], stable: int) -> None:
            C.write(
                C.render(cfg, base.base_path, versions=versions, labels={"stable": stable}), folder
            )

        write([1], 1)  # a new label on a loaded version
        assert _wait(lambda: _labelled(url) == "1"), _states(url)
        publish_atomically(second_version, server.store, 2)
        write([2], 2)  # move the label to a version that is not loaded: refused, every poll
        time.sleep(5)
        assert _labelled(url) == "1" and _states(url).get("1") == "AVAILABLE"
        assert _states(url).get("2") != "AVAILABLE", _states(url)

        write([1, 2], 1)  # step 1: load the new version, the label stays
        assert _wait(lambda: _states(url).get("2") == "AVAILABLE"), _states(url)
        assert _labelled(url) == "1"
        write([2], 2)  # step 2: move the label, then the old version goes
        assert _wait(lambda: _labelled(url) == "2" and _states(url).get("1") == "END"), _states(url)
    finally:
        stop_server(server)
