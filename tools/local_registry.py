"""A real OCI registry on loopback, for the tests and `make bench-registry`.

The CNCF Distribution registry, which Debian and Ubuntu package as `docker-registry`
(`make registry-tools` installs it with `skopeo`, the independent client the tests check the
registry with). Nothing here is a fake: the store talks HTTP to the registry software the OCI
distribution protocol GHCR implements is specified by.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
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


class Registry:
    """One registry process with its own storage; `host` is 127.0.0.1:PORT."""

    def __init__(self, root: Path, *, users: dict[str, str] | None = None) -> None:
        for tool in (BINARY, "skopeo"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found: {INSTALL_HINT}")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        auth = ""
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
            [BINARY, "serve", str(root / "config.yml")], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return
            except urllib.error.HTTPError as exc:  # 401 with auth on: it is up
                if exc.code == 401:
                    return
            except OSError:
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
