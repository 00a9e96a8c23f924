"""Who owns the files a prod promotion changes, read from CODEOWNERS as GitHub reads it.

GitHub uses the first of .github/CODEOWNERS, CODEOWNERS and docs/CODEOWNERS; for each file the
last matching line decides, and a line without owners leaves the file unowned. A CODEOWNERS
file goes stale quietly: a folder renamed, a later catch-all line, a team deleted. The rule
requiring code-owner review then asks nobody about prod, so each path a promotion writes must
resolve to real owners here, and GitHub must report no error on the deciding line
(`GET /repos/{o}/{r}/codeowners/errors`, e.g. "Unknown owner"). Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from delivery import github_api
from delivery.gate_errors import Refused

LOCATIONS = (Path(".github") / "CODEOWNERS", Path("CODEOWNERS"), Path("docs") / "CODEOWNERS")
# What `promote --to prod` and `rollback --env prod` write (record, rendered manifests).
PROMOTED = ("environments/prod/release.yaml", "environments/prod/manifests/deployment.yaml")
PLACEHOLDER = "YOUR_ORG"


@dataclass(frozen=True)
class Line:
    number: int
    pattern: str
    owners: tuple[str, ...]


def find(root: Path) -> Path | None:
    """The CODEOWNERS file GitHub would use in this checkout."""
    return next((root / p for p in LOCATIONS if (root / p).is_file()), None)


def parse(text: str) -> list[Line]:
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if fields:
            lines.append(Line(number, fields[0], tuple(fields[1:])))
    return lines


def _regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-style pattern as CODEOWNERS uses it; a folder matches everything under it."""
    core = pattern.strip("/")
    anchored = pattern.startswith("/") or "/" in core
    parts = re.split(r"(\*\*|\*|\?)", core)
    body = "".join({"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(p, re.escape(p)) for p in parts)
    tail = "/.*" if pattern.endswith("/") else "(/.*)?"
    return re.compile(("" if anchored else "(?:.*/)?") + body + tail)


def owner_line(lines: list[Line], path: str) -> Line | None:
    """The line that decides `path`'s owners: the last one whose pattern matches."""
    found = None
    for line in lines:
        if _regex(line.pattern).fullmatch(path):
            found = line
    return found


def promoted_paths(root: Path) -> list[str]:
    present = [
        str(p.relative_to(root))
        for p in sorted((root / "environments" / "prod").rglob("*"))
        if p.is_file()
    ]
    return sorted(set(PROMOTED) | set(present))


def check(root: Path) -> tuple[Path, dict[int, list[str]], list[str]]:
    """(file, deciding line -> paths it decides, owners) or `Refused` naming file, line, path."""
    path = find(root)
    if path is None:
        raise Refused(
            "PROD_APPROVAL=codeowners, but the repository has no CODEOWNERS file "
            "(.github/CODEOWNERS): add one naming your release approvers for /environments/prod/"
        )
    rel = path.relative_to(root)
    lines = parse(path.read_text())
    deciding: dict[int, list[str]] = {}
    owners: set[str] = set()
    for target in promoted_paths(root):
        line = owner_line(lines, target)
        if line is None:
            raise Refused(
                f"PROD_APPROVAL=codeowners, but {rel} names no owner for {target}, which a "
                f"promotion changes; add a line `/environments/prod/ @your-org/release-approvers`"
            )
        where = f"{rel} line {line.number} ({line.pattern})"
        if not line.owners:
            raise Refused(
                f"PROD_APPROVAL=codeowners, but {where} leaves {target} without owners, so no "
                f"code owner is asked to review it; name your release approvers on that line"
            )
        if any(PLACEHOLDER in owner for owner in line.owners):
            raise Refused(
                f"PROD_APPROVAL=codeowners, but {where} still names the template's placeholder "
                f"{' '.join(line.owners)} for {target}; name your release approvers"
            )
        deciding.setdefault(line.number, []).append(target)
        owners.update(line.owners)
    return rel, deciding, sorted(owners)


def check_errors(api: str, repository: str, token: str, rel: Path, deciding: dict) -> None:
    """GitHub's own reading of CODEOWNERS on main: an error on a deciding line refuses."""
    status, body = github_api.get(api, f"/repos/{repository}/codeowners/errors?ref=main", token)
    if status != 200:
        raise Refused(
            f"GitHub answered HTTP {status} for main's CODEOWNERS errors: main has no {rel} "
            f"GitHub can read, so no code owner would be asked; commit it to main"
        )
    for error in (body or {}).get("errors") or []:
        if error.get("line") in deciding:
            raise Refused(
                f"GitHub reports {error.get('kind', 'an error')} on {rel} line {error['line']} "
                f"({(error.get('source') or '').strip()}), which decides who reviews "
                f"{', '.join(deciding[error['line']])}: {error.get('message', '').strip()} "
                f"Fix the owner (a user or team with write access)."
            )
