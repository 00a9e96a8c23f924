"""A recording stand-in for the `gh` CLI: the pull-request and workflow commands the CD uses.

Every call is appended to $GH_STANDIN_STATE (JSON: `calls`, and `prs` by head branch), with the
body file's text read at call time, so a test sees exactly what a reviewer would. It implements
`pr view BRANCH --json state --jq .state`, `pr create`, `pr edit`, `pr merge` and
`workflow run`; anything else exits 2, so an unexpected call fails the test.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _opt(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def main(argv: list[str]) -> int:
    state_file = Path(os.environ["GH_STANDIN_STATE"])
    state = json.loads(state_file.read_text()) if state_file.exists() else {"calls": [],
                                                                           "prs": {}}
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
                print(f"no pull requests found for branch \"{argv[2]}\"", file=sys.stderr)
                code = 1
            else:
                print(pr["state"])
        case ["pr", "create"]:
            head = _opt(argv, "--head")
            if state["prs"].get(head, {}).get("state") == "OPEN":
                print(f"a pull request for branch \"{head}\" already exists", file=sys.stderr)
                code = 1
            else:
                state["prs"][head] = {"state": "OPEN", "base": _opt(argv, "--base"),
                                      "title": _opt(argv, "--title"), "body": call["body"]}
        case ["pr", "edit"]:
            pr = state["prs"].get(argv[2])
            if pr is None or pr["state"] != "OPEN":
                code = 1
            else:
                pr.update(title=_opt(argv, "--title") or pr["title"],
                          body=call.get("body", pr["body"]))
        case ["pr", "merge"]:
            state["prs"][argv[2]]["state"] = "MERGED"
        case ["workflow", "run"]:
            pass
        case _:
            print(f"gh stand-in: unsupported command {argv}", file=sys.stderr)
            code = 2
    state_file.write_text(json.dumps(state, indent=1))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
