"""The fast loop's definition (tests/support/fast_loop.py) holds: a test outside the slow mark
that starts a server, locust or a workflow replay, or uses a server fixture, fails naming it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from tests.support import fast_loop
from tests.support.replay import Replay


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["/usr/sbin/nginx", "-p", "x", "-c", "x/nginx.conf"], "nginx"),
        (["prometheus", "--config.file=x"], "Prometheus"),
        (["/usr/bin/prometheus-pushgateway", "--web.listen-address=x"], "the Pushgateway"),
        (["docker-registry", "serve", "config.yml"], "an OCI registry"),
        ([sys.executable, "-m", "serving.standin.server", "--port=1"], "the TF Serving stand-in"),
        ([sys.executable, "-m", "locust", "-f", "x.py"], "locust"),
        (["docker", "run", "tensorflow/serving"], "a container (`docker run`)"),
        (["git", "status"], None),
        (["docker", "info"], None),
        ([sys.executable, "-m", "mlops.cli", "config"], None),
        ([sys.executable, "-c", "print(1)"], None),
        (["promtool", "check", "rules", "x.yml"], None),
    ],
)
def test_what_a_command_line_starts(argv: list[str], what: str | None) -> None:
    assert fast_loop.what_it_starts(argv) == what


def test_starting_a_server_outside_the_slow_mark_fails_before_it_runs(request) -> None:
    """This test is not marked slow: the audit hook refuses the process before it exists."""
    with pytest.raises(fast_loop.NotInTheFastLoop, match=r"starts nginx.*mark it"):
        subprocess.Popen(["/nonexistent/nginx", "-v"])
    # Recorded too, so code that swallows the exception cannot hide it: the report would fail.
    assert request.node.nodeid in fast_loop.refused
    fast_loop.refused.pop(request.node.nodeid)
    subprocess.run(["true"], check=True)  # anything else starts as before


def test_a_workflow_replay_outside_the_slow_mark_fails(request, tmp_path) -> None:
    replay = Replay.__new__(Replay)  # refused before it touches any of its state
    with pytest.raises(fast_loop.NotInTheFastLoop, match=r"workflow replay \(ci.yml\)"):
        replay.run("ci.yml", "push")
    fast_loop.refused.pop(request.node.nodeid)


@dataclass
class _Item:
    nodeid: str
    fixturenames: list[str]
    marks: list[str] = field(default_factory=list)

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self.marks else None


def test_a_server_fixture_is_refused_outside_the_slow_mark_and_allowed_inside() -> None:
    fast = _Item("t.py::fast", ["tmp_path", "registry"])
    slow = _Item("t.py::slow", ["registry"], marks=["slow"])
    plain = _Item("t.py::plain", ["tmp_path"])
    for item in (fast, slow, plain):
        fast_loop.enter(item)  # type: ignore[arg-type]
        fast_loop.leave()
    assert "an OCI registry" in fast_loop.refused.pop("t.py::fast")
    assert "t.py::slow" not in fast_loop.refused and "t.py::plain" not in fast_loop.refused
