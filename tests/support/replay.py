"""Replay GitHub Actions workflows on this machine: their own `run:` steps, job by job.

Each job of a workflow runs in its own fresh clone of a local bare `origin`, in `needs` order,
through reusable-workflow calls, with:
- an evaluator for exactly the `${{ }}` expressions the workflows use; an unknown context,
  function or operator raises `ExprError`, so a workflow edit cannot quietly escape the replay;
- a table (`ACTIONS`) mapping each `uses:` action to a local equivalent: checkout of a ref from
  `origin`, artifact upload/download through a folder keyed by run id, cache steps as no-ops; an
  action missing from the table raises;
- local composite actions (`uses: ./.github/actions/NAME`), read from the job's own checkout as
  GitHub does, with their steps run in place: `inputs` with defaults, `if:`, `run:` (bash only)
  and `uses:` through the same table; any other kind of action, or key, raises;
- `$GITHUB_OUTPUT` step outputs, job outputs, `if:` with the implicit `success()`, step outcomes;
- `rewrites`: exact text swapped in `run:` steps for what this machine lacks (Docker), each one
  logged, and `Replay.unused_rewrites()` names any that no step needed;
- `not_replayed`: jobs stated as succeeded without running, each with its reason, logged;
- `fresh_runners`: a finished job's workspace is deleted, as a GitHub runner's disk is, so a
  later job can reach it only through origin, the artifacts and the registry.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support import fast_loop
from tests.support.job_tokens import JobTokens, bounded, effective
from tests.support.replay_approvals import Approvals

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
LOCAL_ACTIONS = WORKFLOWS.parent / "actions"  # composite actions the workflows use as ./...


class ExprError(Exception):
    """An expression the replay does not know: extend the evaluator deliberately."""


# --- expressions ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|"
    r"(?P<op>==|!=|&&|\|\||[!().,\[\]])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
KNOWN_CONTEXTS = {
    "github",
    "inputs",
    "vars",
    "secrets",
    "steps",
    "needs",
    "runner",
    "env",
    "matrix",
}


class Lenient(dict):
    """A context where a missing key reads as '' (vars, secrets, a skipped step's outputs)."""

    def __missing__(self, key: str) -> str:
        return ""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ExprError(f"cannot read expression at {text[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") if not isinstance(value, str) else value != ""


def _number(value: Any) -> float:
    """GitHub's coercion when the two sides of == differ in type."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return float("nan")
    raise ExprError(f"comparison with a {type(value).__name__} is not used")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()  # GitHub compares strings case-insensitively
    if type(a) is type(b) and not isinstance(a, (dict, list)):
        return a == b
    return _number(a) == _number(b)


class _Parser:
    def __init__(self, text: str, scope: Scope) -> None:
        self.items, self.i, self.scope = _tokens(text), 0, scope

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.i] if self.i < len(self.items) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExprError(f"expected {value or 'more'} in expression")
        self.i += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if (extra := self.peek()) is not None:
            raise ExprError(f"unexpected {extra[1]!r}")
        return value

    # GitHub's && and || return an operand, which is what `a && 'x' || ''` relies on.
    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if _truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.eq()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.eq()
            value = right if _truthy(value) else value
        return value

    def eq(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            same = _equal(value, self.unary())
            value = same if op == "==" else not same
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                value = self.scope.member(value, self.take()[1])
            else:
                key = self.or_()
                self.take("]")
                value = self.scope.member(value, key)
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if (kind, text) == ("op", "("):
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise ExprError(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.or_())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return self.scope.call(text, args)
        return self.scope.context(text)


@dataclass
class Scope:
    """What an expression may read: contexts, the job's status, and its workspace."""

    contexts: dict[str, Any]
    status: str = "success"  # success | failure | cancelled | skipped
    workspace: Path | None = None

    def context(self, name: str) -> Any:
        if name not in KNOWN_CONTEXTS or name not in self.contexts:
            raise ExprError(f"unknown context {name!r}")
        return self.contexts[name]

    def member(self, value: Any, key: Any) -> Any:
        if isinstance(value, dict):
            if key in value or isinstance(value, Lenient):
                return value[key]
            raise ExprError(f"unknown property {key!r} (known: {sorted(value)})")
        if value is None or value == "":
            return None
        raise ExprError(f"property {key!r} of a {type(value).__name__}")

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "success":
            return self.status == "success"
        if name == "failure":
            return self.status == "failure"
        if name == "cancelled":
            return self.status == "cancelled"
        if name == "always":
            return True
        if name == "startsWith":
            return str(args[0] or "").casefold().startswith(str(args[1] or "").casefold())
        if name == "hashFiles":
            return _hash_files(self.workspace, args)
        raise ExprError(f"unknown function {name}()")

    def evaluate(self, text: str) -> Any:
        return _Parser(text, self).parse()

    def template(self, value: Any) -> Any:
        """A `with:`/`env:` value: `${{ x }}` alone keeps x's type, else it is interpolated."""
        if not isinstance(value, str) or "${{" not in value:
            return value
        whole = re.fullmatch(r"\$\{\{(.*?)\}\}", value.strip(), re.S)
        if whole:
            return self.evaluate(whole.group(1))
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _text(self.evaluate(m.group(1))), value)

    def condition(self, text: Any) -> bool:
        """`if:` with GitHub's implicit `success() &&` when no status function is named."""
        if text is None:
            return self.status == "success"
        if isinstance(text, bool):
            return text and self.status == "success"
        body = str(text).strip()
        whole = re.fullmatch(r"\$\{\{(.*)\}\}", body, re.S)
        body = whole.group(1) if whole else body
        if not re.search(r"\b(success|failure|cancelled|always)\(", body):
            body = f"success() && ({body})"
        return _truthy(self.evaluate(body))


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else str(value)


def _hash_files(workspace: Path | None, patterns: list[str]) -> str:
    if workspace is None:
        raise ExprError("hashFiles() outside a job")
    digest, found = hashlib.sha256(), False
    for path in sorted(p for p in workspace.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = str(path.relative_to(workspace))
        if any(fnmatch.fnmatch(rel, pattern) for pattern in patterns):
            digest.update(hashlib.sha256(path.read_bytes()).digest())
            found = True
    return digest.hexdigest() if found else ""


# --- workflows --------------------------------------------------------------------------------


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


_FILTERS = {"branches", "paths", "paths-ignore", "workflows", "types", "inputs"}


def _glob(path: str, pattern: str) -> bool:
    """GitHub's filter patterns: `**` crosses folders, `*` and `?` do not."""
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    regex = "".join({"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(p, re.escape(p)) for p in parts)
    return re.fullmatch(regex, path) is not None


def triggers(
    name: str, event: str, ref: str = "refs/heads/main", changed: list[str] | None = None
) -> bool:
    """Whether `event` starts workflow `name`: the event is declared and, for a push, its branch
    and changed files pass `branches`, `paths` and `paths-ignore`. An unknown filter raises."""
    on = load(name)["on"]
    if event not in on:
        return False
    spec = on[event] or {}
    if set(spec) - _FILTERS:
        raise ExprError(f"{name}: trigger filters not replayed: {sorted(set(spec) - _FILTERS)}")
    if event != "push":
        return True
    branch = ref.removeprefix("refs/heads/")
    if "branches" in spec and not any(_glob(branch, p) for p in spec["branches"]):
        return False
    files = changed or []
    if "paths" in spec:
        return any(_glob(f, p) for f in files for p in spec["paths"])
    if "paths-ignore" in spec:
        return any(not any(_glob(f, p) for p in spec["paths-ignore"]) for f in files)
    return True


def expressions(node: Any) -> list[str]:
    """Every `${{ }}` body and every bare `if:` in a parsed workflow."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "if" and isinstance(value, str) and "${{" not in value:
                found.append(value)
            else:
                found.extend(expressions(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(expressions(item))
    elif isinstance(node, str):
        found.extend(m.group(1) for m in re.finditer(r"\$\{\{(.*?)\}\}", node, re.S))
    return found


@dataclass
class JobResult:
    result: str  # success | failure | skipped
    outputs: dict[str, Any] = field(default_factory=dict)
    workspace: Path | None = None
    log: list[str] = field(default_factory=list)


# ci.yml's init-check: a matrix job (one leg per task) running `make test-fast` in a freshly
# generated project, minutes each; the replays state it as passed, as they do the suite itself.
INIT_CHECK = "make init-check, test-fast in a freshly generated project per task"


@dataclass
class Replay:
    """One machine standing in for GitHub: origin, artifacts, variables, secrets, tools."""

    origin: Path
    root: Path
    env: dict[str, str]
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    repository: str = "acme/taxi"
    runs: int = 0
    rewrites: dict[str, str] = field(default_factory=dict)
    not_replayed: dict[str, str] = field(default_factory=dict)  # "ci.yml/test": why
    fresh_runners: bool = False
    workspaces: dict[str, Path] = field(default_factory=dict)  # "run-id/workflow-job": path
    logs: dict[str, list[str]] = field(default_factory=dict)  # the same keys: step logs
    seconds: dict[str, float] = field(default_factory=dict)  # the same keys: wall time
    # "run-id/workflow-job: step name": wall time of each step that ran, to find the slow ones
    step_seconds: dict[str, float] = field(default_factory=dict)
    used_rewrites: set[str] = field(default_factory=set)
    # Set: every job gets its own GITHUB_TOKEN with exactly its `permissions:` (job_tokens.py).
    job_tokens: JobTokens | None = None
    permission_bounds: list[dict[str, str]] = field(default_factory=list)  # calling jobs'
    approvals: Approvals = field(default_factory=Approvals)  # reviewers, held runs

    @property
    def last_run_id(self) -> str:
        return str(1000 + self.runs)

    def unused_rewrites(self) -> list[str]:
        return sorted(set(self.rewrites) - self.used_rewrites)

    def run(
        self,
        name: str,
        event: str,
        payload: dict | None = None,
        ref: str = "refs/heads/main",
        inputs: dict | None = None,
    ) -> dict[str, JobResult]:
        fast_loop.refuse(f"a workflow replay ({name})")
        if self.approvals.holds(name, event, ref, payload):
            return {}  # waits for "Approve workflows to run": see approve_held_runs
        self.runs += 1
        run_id = str(1000 + self.runs)
        sha = subprocess.run(
            ["git", "rev-parse", ref.removeprefix("refs/heads/")],
            cwd=self.origin,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        github = {
            "event_name": event,
            "event": payload or {},
            "ref": ref,
            "sha": sha,
            "run_id": run_id,
            "repository": self.repository,
            "token": "ghs_replay",
        }
        declared = (load(name)["on"].get("workflow_dispatch") or {}).get("inputs") or {}
        return self._workflow(name, github, self._inputs(declared, inputs or {}), self.secrets)

    def approve_held_runs(self) -> dict[str, dict[str, JobResult]]:
        """A maintainer clicks "Approve workflows to run": the held runs start, in order."""
        held, self.approvals.held = self.approvals.held, []
        self.approvals.approving = True
        try:
            return {
                h.workflow: self.run(h.workflow, "pull_request", payload=h.payload, ref=h.ref)
                for h in held
            }
        finally:
            self.approvals.approving = False

    @staticmethod
    def _inputs(declared: dict, given: dict) -> dict:
        unknown = set(given) - set(declared)
        if unknown:
            raise ExprError(f"inputs not declared by the workflow: {sorted(unknown)}")
        out = Lenient()
        for key, spec in declared.items():
            if key in given:
                out[key] = given[key]
            elif (spec or {}).get("required"):
                raise ExprError(f"required input {key!r} missing")
            else:
                out[key] = (spec or {}).get("default", "")
        return out

    def _workflow(
        self, name: str, github: dict, inputs: dict, secrets: dict
    ) -> dict[str, JobResult]:
        data = load(name)
        results: dict[str, JobResult] = {}
        pending = dict(data["jobs"])
        while pending:
            ready = [j for j, job in pending.items() if all(n in results for n in _needs(job))]
            if not ready:
                raise ExprError(f"{name}: a cycle in needs: {sorted(pending)}")
            for job_id in ready:
                job = pending.pop(job_id)
                results[job_id] = self._job(name, job_id, job, github, inputs, secrets, results)
        return results

    def _job(
        self,
        name: str,
        job_id: str,
        job: dict,
        github: dict,
        inputs: dict,
        secrets: dict,
        results: dict[str, JobResult],
    ) -> JobResult:
        needs = {
            n: {"result": results[n].result, "outputs": results[n].outputs} for n in _needs(job)
        }
        # A failed need makes failure() true; a skipped one leaves only !cancelled()/always().
        states = {results[n].result for n in _needs(job)}
        upstream = (
            "failure" if "failure" in states else ("skipped" if "skipped" in states else "success")
        )
        scope = Scope(
            {
                "github": github,
                "inputs": inputs,
                "vars": Lenient(self.vars),
                "secrets": Lenient(secrets),
                "needs": needs,
            },
            status=upstream,
        )
        if not scope.condition(job.get("if")):
            return JobResult("skipped", {k: "" for k in job.get("outputs") or {}})
        target = job.get("uses")
        if target:
            called = load(target.removeprefix("./.github/workflows/"))
            declared = called["on"]["workflow_call"] or {}
            given = {k: scope.template(v) for k, v in (job.get("with") or {}).items()}
            passed = {k: scope.template(v) for k, v in (job.get("secrets") or {}).items()}
            self.permission_bounds.append(self._job_permissions(name, job))
            try:
                inner = self._workflow(
                    target.removeprefix("./.github/workflows/"),
                    github,
                    self._inputs(declared.get("inputs") or {}, given),
                    Lenient(passed),
                )
            finally:
                self.permission_bounds.pop()
            failed = any(r.result == "failure" for r in inner.values())
            return JobResult(
                "failure" if failed else "success",
                log=[line for r in inner.values() for line in r.log],
            )
        rejected = self.approvals.environment_gate(name, job_id, job)
        if rejected is not None:
            return JobResult("failure", {k: "" for k in job.get("outputs") or {}}, log=[rejected])
        if f"{name}/{job_id}" in self.not_replayed:
            return JobResult(
                "success",
                {k: "" for k in job.get("outputs") or {}},
                log=[f"{name}/{job_id}: not replayed: {self.not_replayed[name + '/' + job_id]}"],
            )
        if (job.get("strategy") or {}).get("matrix"):
            # No matrix context is given, so a matrix job fails here rather than run one leg.
            raise ExprError(f"{name}/{job_id}: a matrix job; the replay runs none (not_replayed)")
        started = time.monotonic()
        github = self._with_job_token(name, job_id, job, github)
        scope.contexts["github"] = github
        try:
            result = self._steps(name, job_id, job, scope, github)
        finally:
            if self.job_tokens is not None:
                self.job_tokens.revoke(github["token"])
        self.seconds[f"{github['run_id']}/{name}-{job_id}"] = time.monotonic() - started
        if result.workspace is not None:
            self.workspaces[f"{github['run_id']}/{name}-{job_id}"] = result.workspace
            self.logs[f"{github['run_id']}/{name}-{job_id}"] = result.log
            if self.fresh_runners:
                shutil.rmtree(result.workspace)
        return result

    def _steps(self, name: str, job_id: str, job: dict, scope: Scope, github: dict) -> JobResult:
        workspace = Path(self.root, f"run-{github['run_id']}", f"{name}-{job_id}")
        workspace.mkdir(parents=True)
        scope.workspace = workspace
        steps: dict[str, Any] = {}
        scope.contexts["steps"] = steps
        scope.contexts["runner"] = {"os": "Linux", "temp": str(self.root / "tmp")}
        scope.contexts["env"] = Lenient()
        status, log = "success", []
        for index, step in enumerate(job.get("steps") or []):
            scope.status = status
            step_id = step.get("id", f"step{index}")
            steps[step_id] = {"outcome": "skipped", "conclusion": "skipped", "outputs": Lenient()}
            if not scope.condition(step.get("if")):
                continue
            env = {k: _text(scope.template(v)) for k, v in (step.get("env") or {}).items()}
            step_started = time.monotonic()
            if "run" in step:
                ok, outputs, text = self._shell(step["run"], workspace, github, env)
            else:
                ok, outputs, text = self._action(step, scope, workspace, github, env)
            label = step.get("name") or step.get("run") or step["uses"]
            self.step_seconds[f"{github['run_id']}/{name}-{job_id}: {label}"] = (
                time.monotonic() - step_started
            )
            log.append(
                f"{name}/{job_id}: {step.get('name') or step.get('run') or step['uses']}"
                f" -> {'success' if ok else 'failure'}\n{text}"
            )
            steps[step_id] = {
                "outcome": "success" if ok else "failure",
                "conclusion": "success" if ok else "failure",
                "outputs": Lenient(outputs),
            }
            if not ok:
                status = "failure"
        scope.status = status
        outputs = {k: _text(scope.template(v)) for k, v in (job.get("outputs") or {}).items()}
        return JobResult(status, outputs, workspace, log)

    # --- job tokens: permissions as GitHub enforces them (tests/support/job_tokens.py) --------

    def _job_permissions(self, name: str, job: dict) -> dict[str, str]:
        """What the job's token may do: its own, else its workflow's, `permissions:`, never
        more than the job that called this workflow holds."""
        declared = job["permissions"] if "permissions" in job else load(name).get("permissions")
        bound = self.permission_bounds[-1] if self.permission_bounds else None
        return bounded(effective(declared), bound)

    def _with_job_token(self, name: str, job_id: str, job: dict, github: dict) -> dict:
        """The run's github context with this job's own token, when tokens are enforced."""
        if self.job_tokens is None:
            return github
        token = self.job_tokens.mint(f"{name}/{job_id}", self._job_permissions(name, job))
        return {**github, "token": token}

    def _registry_login(self, env: dict[str, str]) -> dict[str, str]:
        """The store logs in to ghcr.io with GITHUB_TOKEN; the replay's registry is a loopback
        stand-in, so a step that was given GITHUB_TOKEN logs in with it there too."""
        token = env.get("GITHUB_TOKEN", "")
        if self.job_tokens is None or token not in self.job_tokens.issued:
            return {}
        return {"MODEL_REGISTRY_USERNAME": "x-access-token", "MODEL_REGISTRY_PASSWORD": token}

    def _github_env(self, github: dict, workspace: Path) -> dict[str, str]:
        return {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF": github["ref"],
            "GITHUB_SHA": github["sha"],
            "GITHUB_RUN_ID": github["run_id"],
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_WORKSPACE": str(workspace),
        }

    def _shell(
        self, script: str, workspace: Path, github: dict, env: dict[str, str]
    ) -> tuple[bool, dict[str, str], str]:
        for old, new in self.rewrites.items():
            if old in script:
                script = script.replace(old, new)
                self.used_rewrites.add(old)
        output = workspace.parent / f".{workspace.name}.output"
        output.write_text("")
        full = {
            **self.env,
            **self._github_env(github, workspace),
            **env,
            **self._registry_login(env),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(output) + ".md",
        }
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=workspace,
            env=full,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        return done.returncode == 0, outputs, f"$ {script}\n{done.stdout}{done.stderr}"

    def _action(
        self, step: dict, scope: Scope, workspace: Path, github: dict, env: dict[str, str]
    ) -> tuple[bool, dict[str, str], str]:
        given = {k: scope.template(v) for k, v in (step.get("with") or {}).items()}
        if step["uses"].startswith("./"):
            return self._composite(step["uses"], given, scope, workspace, github, env)
        action = step["uses"].split("@")[0]
        handler = ACTIONS.get(action)
        if handler is None:
            raise ExprError(f"no local equivalent for action {action}")
        return handler(self, given, workspace, github)

    def _composite(
        self,
        uses: str,
        given: dict[str, Any],
        outer: Scope,
        workspace: Path,
        github: dict,
        env: dict[str, str],
    ) -> tuple[bool, dict[str, str], str]:
        """A local composite action, read from the job's checkout, its steps run in place."""
        path = workspace / uses / "action.yml"
        if not path.is_file():
            return False, {}, f"{uses}: no action.yml in the job's workspace (checked out first?)"
        action = yaml.safe_load(path.read_text())
        runs = action.get("runs") or {}
        if runs.get("using") != "composite" or set(runs) - {"using", "steps"}:
            raise ExprError(f"{uses}: only composite actions with steps are replayed")
        unknown = set(action) - {"name", "description", "inputs", "runs"}
        if unknown:
            raise ExprError(f"{uses}: keys not replayed: {sorted(unknown)}")
        declared = action.get("inputs") or {}
        if set(given) - set(declared):
            raise ExprError(
                f"{uses}: inputs not declared by the action: {sorted(set(given) - set(declared))}"
            )
        inputs: dict[str, str] = {}  # not Lenient: a misspelt input name raises
        for key, spec in declared.items():
            if key in given:
                inputs[key] = _text(given[key])  # an action's inputs are always strings
            elif (spec or {}).get("required"):
                return False, {}, f"{uses}: required input {key!r} missing"
            else:
                inputs[key] = _text((spec or {}).get("default", ""))
        steps: dict[str, Any] = {}
        scope = Scope(
            {
                "github": outer.contexts["github"],
                "inputs": inputs,
                "runner": outer.contexts["runner"],
                "env": Lenient(env),
                "steps": steps,
            },
            status="success",
            workspace=workspace,
        )
        log = [f"{uses}: composite action"]
        for index, inner in enumerate(runs.get("steps") or []):
            step_id = inner.get("id", f"step{index}")
            steps[step_id] = {"outcome": "skipped", "conclusion": "skipped", "outputs": Lenient()}
            if not scope.condition(inner.get("if")):
                continue
            step_env = {
                **env,
                **{k: _text(scope.template(v)) for k, v in (inner.get("env") or {}).items()},
            }
            if "run" in inner:
                if inner.get("shell") != "bash":
                    raise ExprError(f"{uses}: a run: step with shell {inner.get('shell')!r}")
                ok, outputs, text = self._shell(inner["run"], workspace, github, step_env)
            else:
                ok, outputs, text = self._action(inner, scope, workspace, github, step_env)
            log.append(
                f"  {inner.get('name') or inner.get('run') or inner['uses']} -> "
                f"{'success' if ok else 'failure'}\n{text}"
            )
            result = "success" if ok else "failure"
            steps[step_id] = {"outcome": result, "conclusion": result, "outputs": Lenient(outputs)}
            if not ok:
                scope.status = "failure"
        return scope.status == "success", {}, "\n".join(log)


def _needs(job: dict) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


# --- the `uses:` table ------------------------------------------------------------------------


def _checkout(replay: Replay, given: dict, workspace: Path, github: dict) -> tuple[bool, dict, str]:
    known = {"ref", "path", "persist-credentials", "token", "sparse-checkout"}
    if set(given) - known:
        raise ExprError(f"checkout inputs not replayed: {sorted(set(given) - known)}")
    target = workspace / given.get("path", ".")
    ref = given.get("ref") or github["sha"]
    if target.exists() and any(target.iterdir()):
        raise ExprError(f"checkout into a non-empty {target}")
    subprocess.run(["git", "clone", "--quiet", str(replay.origin), str(target)], check=True)
    subprocess.run(["git", "checkout", "--quiet", "--detach", ref], cwd=target, check=True)
    subprocess.run(["git", "config", "user.name", "replay"], cwd=target, check=True)
    subprocess.run(["git", "config", "user.email", "replay@example.com"], cwd=target, check=True)
    if given.get("persist-credentials") is False:
        # No token stays behind: a later `git push` from this job must fail, as on GitHub.
        subprocess.run(
            ["git", "remote", "set-url", "--push", "origin", "/nonexistent/no-token"],
            cwd=target,
            check=True,
        )
    for name in ("requirements.lock", "requirements.overrides", "pyproject.toml"):
        if (target / name).exists():  # the shared environment stays "up to date" for make
            os.utime(target / name, (946684800, 946684800))
    return True, {}, f"checked out {ref} into {target}"


def _artifacts(replay: Replay, github: dict, run_id: str | None = None) -> Path:
    return replay.root / "artifacts" / str(run_id or github["run_id"])


def _upload(replay: Replay, given: dict, workspace: Path, github: dict) -> tuple[bool, dict, str]:
    dest = _artifacts(replay, github) / given["name"]
    if dest.exists():
        return False, {}, f"artifact {given['name']} exists already in this run"
    files: list[Path] = []
    for line in str(given["path"]).split("\n"):
        line = line.strip()
        if line:
            files.extend(
                workspace.glob(line.rstrip("/")) if "*" in line else [workspace / line.rstrip("/")]
            )
    files = [f for f in files if f.exists()]
    if not files:
        missing = given.get("if-no-files-found", "warn") == "error"
        return not missing, {}, f"no files for artifact {given['name']}"
    dest.mkdir(parents=True)
    for path in files:
        if path.is_dir():
            shutil.copytree(path, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(path, dest / path.name)
    return True, {}, f"uploaded {given['name']}"


def _download(replay: Replay, given: dict, workspace: Path, github: dict) -> tuple[bool, dict, str]:
    run_id = given.get("run-id") or github["run_id"]
    source = _artifacts(replay, github, run_id) / given["name"]
    if not source.exists():
        return False, {}, f"artifact {given['name']} not found in run {run_id}"
    shutil.copytree(source, workspace / given.get("path", "."), dirs_exist_ok=True)
    return True, {}, f"downloaded {given['name']} from run {run_id}"


def _noop(replay: Replay, given: dict, workspace: Path, github: dict) -> tuple[bool, dict, str]:
    return True, {}, "no-op on this machine (the shared environment is already installed)"


ACTIONS = {
    "actions/checkout": _checkout,
    "actions/setup-python": _noop,
    "actions/cache": _noop,
    "actions/cache/restore": _noop,
    "actions/upload-artifact": _upload,
    "actions/download-artifact": _download,
}
