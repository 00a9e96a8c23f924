"""A real OCI registry on loopback, for the tests, `make bench-registry` and `make registry`.

The CNCF Distribution registry, which Debian and Ubuntu package as `docker-registry`
(`make registry-tools` installs it with `skopeo`, the independent client the tests check the
registry with). Nothing here is a fake: the store talks HTTP to the registry software the OCI
distribution protocol GHCR implements is specified by.

`make registry` (`python -m tools.local_registry start`) gives a laptop the registry staging and
prod need: detached, on 127.0.0.1:5001, its data and pid under build/registry/, until
`make registry-stop`. `serve` runs it in the foreground instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

BINARY = "docker-registry"
INSTALL_HINT = (
    "the CNCF Distribution registry (`docker-registry`) and `skopeo` are needed for "
    "the registry tests: run `make registry-tools` (apt-get install docker-registry "
    "skopeo, as root or with sudo), or on GitHub use a `registry:2` service container"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(host: str) -> bool:
    """Whether a registry answers /v2/ at `host` (401: it is up, and wants credentials)."""
    try:
        urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
        return True
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False


class Registry:
    """One registry process with its own storage; `host` is 127.0.0.1:PORT.

    `port`: a fixed port (default: a free one); `detach`: the process outlives this one, in its
    own session, as `make registry` leaves it; `require`: the programs that must be installed;
    `auth_yaml`: an `auth:` config section instead of `users` (token auth, as GHCR has).
    """

    def __init__(
        self,
        root: Path,
        *,
        users: dict[str, str] | None = None,
        port: int | None = None,
        detach: bool = False,
        require: tuple[str, ...] = (BINARY, "skopeo"),
        auth_yaml: str = "",
    ) -> None:
        for tool in require:
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found: {INSTALL_HINT}")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self.host = f"127.0.0.1:{self.port}"
        auth = auth_yaml
        if users:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import crypt

            lines = [
                f"{u}:{crypt.crypt(p, crypt.mksalt(crypt.METHOD_BLOWFISH))}"
                for u, p in users.items()
            ]
            (root / "htpasswd").write_text("\n".join(lines) + "\n")
            auth = f"auth: {{htpasswd: {{realm: test-registry, path: {root / 'htpasswd'}}}}}\n"
        (root / "config.yml").write_text(
            "version: 0.1\n"
            f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, "
            "delete: {enabled: true}}\n"
            f"http: {{addr: {self.host}}}\n"
            "log: {level: warn}\n" + auth
        )
        self._log = (root / "registry.log").open("w")
        self.proc = subprocess.Popen(
            [BINARY, "serve", str(root / "config.yml")],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if _answers(self.host):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the registry did not start: {(root / 'registry.log').read_text()}")

    def store_uri(self, namespace: str = "acme/taxi/models") -> str:
        return f"oci://{self.host}/{namespace}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()

    # --- an independent client: skopeo --------------------------------------------------------

    def skopeo(self, *args: str, creds: str = "") -> subprocess.CompletedProcess[str]:
        extra = ["--creds", creds] if creds else []
        return subprocess.run(
            ["skopeo", *args[:1], "--tls-verify=false", *extra, *args[1:]],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def raw_manifest(self, ref: str) -> tuple[dict, str]:
        """The manifest skopeo fetches (`ref` without oci://) and the sha256 of its bytes."""
        raw = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{ref}"],
            capture_output=True,
            timeout=60,
        )
        assert raw.returncode == 0, raw.stderr.decode()
        return json.loads(raw.stdout), "sha256:" + hashlib.sha256(raw.stdout).hexdigest()

    def tags(self, repository: str) -> list[str]:
        out = self.skopeo("list-tags", f"docker://{self.host}/{repository}")
        if out.returncode != 0:
            return []
        return sorted(json.loads(out.stdout)["Tags"])


# --- `make registry`: one detached registry per checkout, its state under build/registry ------

DEFAULT_ROOT = Path("build") / "registry"
PID_FILE = "registry.pid"
ADDRESS_FILE = "address"


def _running(root: Path) -> tuple[int, str] | None:
    """pid and address of the registry `start` left in `root`, if that process still runs it."""
    try:
        pid = int((root / PID_FILE).read_text())
        host = (root / ADDRESS_FILE).read_text().strip()
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    args = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
    return (pid, host) if BINARY in args.stdout else None  # not a recycled pid


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _next_steps(host: str) -> str:
    return (
        f"Point staging and prod at it (environments/cloud.yaml reads MODEL_REGISTRY):\n"
        f"  export MODEL_REGISTRY={host}\n"
        f"`mlops status` then says what can be promoted. Stop it with `make registry-stop`."
    )


def start(root: Path, port: int) -> int:
    found = _running(root)
    if found is not None:
        print(f"The local registry is already running at {found[1]} (pid {found[0]}).")
        print(_next_steps(found[1]))
        return 0
    if _port_taken(port):
        print(
            f"make registry: port {port} on 127.0.0.1 is in use: stop what holds it, or "
            f"`make registry REGISTRY_PORT=N`",
            file=sys.stderr,
        )
        return 3
    try:
        registry = Registry(root, port=port, detach=True, require=(BINARY,))
    except RuntimeError as exc:
        print(f"make registry: {exc}", file=sys.stderr)
        return 3
    (root / PID_FILE).write_text(f"{registry.proc.pid}\n")
    (root / ADDRESS_FILE).write_text(f"{registry.host}\n")
    registry._log.close()  # the detached process keeps its own copy
    print(
        f"Local registry (CNCF Distribution) at {registry.host}, pid {registry.proc.pid}; "
        f"data in {root / 'data'}, log {root / 'registry.log'}."
    )
    print(_next_steps(registry.host))
    return 0


def stop(root: Path) -> int:
    found = _running(root)
    (root / PID_FILE).unlink(missing_ok=True)
    if found is None:
        print(f"No local registry is running (none started from {root}).")
        return 0
    pid, host = found
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running_pid(pid):
        time.sleep(0.1)
    if _running_pid(pid):
        os.kill(pid, signal.SIGKILL)
    print(f"Stopped the local registry at {host} (its data stays in {root / 'data'}).")
    return 0


def _running_pid(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return bool(state.stdout.strip()) and not state.stdout.strip().startswith("Z")


def serve(root: Path, port: int) -> int:
    """In the foreground until Ctrl-C."""
    try:
        registry = Registry(root, port=port, require=(BINARY,))
    except RuntimeError as exc:
        print(f"make registry: {exc}", file=sys.stderr)
        return 3
    print(f"Local registry at {registry.host}; Ctrl-C stops it.")
    print(_next_steps(registry.host).rsplit(" Stop it", 1)[0])
    try:
        registry.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        registry.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    from core.registry_setup import LOCAL_REGISTRY

    parser = argparse.ArgumentParser(
        prog="python -m tools.local_registry",
        description="A local OCI registry for staging's and prod's model store.",
    )
    parser.add_argument("action", choices=["start", "stop", "serve"])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="state folder")
    parser.add_argument(
        "--port", type=int, default=int(LOCAL_REGISTRY.rsplit(":", 1)[1]), help="loopback port"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()  # the registry's config names its data folder absolutely
    if args.action == "stop":
        return stop(root)
    return (start if args.action == "start" else serve)(root, args.port)


if __name__ == "__main__":
    sys.exit(main())
