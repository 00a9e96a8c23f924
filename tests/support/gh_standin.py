"""A recording stand-in for the `gh` CLI: the pull-request and workflow commands the CD uses.

Every call is appended to $GH_STANDIN_STATE (JSON: `calls`, and `prs` by head branch), with the
body file's text read at call time, so a test sees exactly what a reviewer would. It implements
`pr view BRANCH --json state --jq .state`, `pr create`, `pr edit` and `pr merge`; anything
else exits 2 (a `workflow run` dispatch too), so an unexpected call fails the test. With
$GH_STANDIN_ORIGIN (a bare repository), `pr merge BRANCH` merges the branch into the pull
request's base there, as the merge button does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _opt(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def main(argv: list[str]) -> int:
    state_file = Path(os.environ["GH_STANDIN_STATE"])
    state = json.loads(state_file.read_text()) if state_file.exists() else {"calls": [], "prs": {}}
    call: dict = {"argv": argv}
    body_file = _opt(argv, "--body-file")
    if body_file:
        call["body"] = Path(body_file).read_text()
    state["calls"].append(call)
    code = 0
    match argv[:2]:
        case ["pr", "view"]:
            pr = state["prs"].get(argv[2])
            if pr is None:
                print(f'no pull requests found for branch "{argv[2]}"', file=sys.stderr)
                code = 1
            else:
                print(pr["state"])
        case ["pr", "create"]:
            head = _opt(argv, "--head")
            if state["prs"].get(head, {}).get("state") == "OPEN":
                print(f'a pull request for branch "{head}" already exists', file=sys.stderr)
                code = 1
            else:
                state["prs"][head] = {
                    "state": "OPEN",
                    "base": _opt(argv, "--base"),
                    "title": _opt(argv, "--title"),
                    "body": call["body"],
                }
        case ["pr", "edit"]:
            pr = state["prs"].get(argv[2])
            if pr is None or pr["state"] != "OPEN":
                code = 1
            else:
                pr.update(
                    title=_opt(argv, "--title") or pr["title"], body=call.get("body", pr["body"])
                )
        case ["pr", "merge"]:
            pr = state["prs"].get(argv[2])
            if pr is None or pr["state"] != "OPEN":
                print(f'no open pull request for branch "{argv[2]}"', file=sys.stderr)
                code = 1
            else:
                if os.environ.get("GH_STANDIN_ORIGIN"):
                    _merge(os.environ["GH_STANDIN_ORIGIN"], argv[2], pr)
                pr["state"] = "MERGED"
        case _:
            print(f"gh stand-in: unsupported command {argv}", file=sys.stderr)
            code = 2
    state_file.write_text(json.dumps(state, indent=1))
    return code


def _merge(origin: str, head: str, pr: dict) -> None:
    """A merge commit of `head` onto the base branch, pushed to the bare origin."""
    with tempfile.TemporaryDirectory() as tmp:

        def git(*args: str) -> None:
            subprocess.run(["git", *args], cwd=tmp, check=True, capture_output=True)

        git("clone", "--quiet", "--branch", pr["base"], origin, ".")
        git(
            "-c",
            "user.name=reviewer",
            "-c",
            "user.email=reviewer@example.com",
            "merge",
            "--no-ff",
            "--quiet",
            "-m",
            f"Merge pull request from {head}\n\n{pr['title']}",
            f"origin/{head}",
        )
        git("push", "--quiet", "origin", f"HEAD:{pr['base']}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
