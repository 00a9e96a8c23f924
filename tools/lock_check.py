"""`make lock-check`: requirements.lock still matches requirements.in, without the network.

CI installs only the lock (hashed, `uv pip compile` by `make lock`), so a change to
requirements.in alone, as Dependabot's pip pull requests make, would be green and untested.
This check fails such a change and names what to run. It reads the three files only:

- every requirement of requirements.in (and requirements.overrides) is in the lock, at a
  version its specifier allows;
- nothing in the lock says it comes from requirements.in that requirements.in no longer names;
- every pin carries a hash;
- the lock's header is the command `make lock` runs, so it was compiled the same way.

It cannot see a newer release the resolver would now pick; `make lock` on the branch does.

    python -m tools.lock_check
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from core.paths import REPO_ROOT

FIX = "Run `make lock` and commit requirements.lock (a Dependabot branch included)."
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")
# What `make lock` resolves for: markers of requirements.in are read for this interpreter.
TARGET = {"python_version": "3.10", "python_full_version": "3.10.0", "sys_platform": "linux"}


@dataclass
class Pin:
    version: str
    line: int
    hashes: int = 0
    via: set[str] = field(default_factory=set)


def read_lock(path: Path) -> tuple[dict[str, Pin], str]:
    """Pins by canonical name, and the command in the lock's header."""
    pins: dict[str, Pin] = {}
    header, current = "", None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if raw.startswith("#") and "uv pip compile" in raw:
            header = raw.lstrip("# ").strip()
        elif match := _PIN.match(raw):
            current = pins[canonicalize_name(match["name"])] = Pin(match["version"], number)
        elif current is not None and line.startswith("--hash="):
            current.hashes += 1
        elif current is not None and line.startswith("#"):
            source = line.lstrip("#").strip().removeprefix("via").strip()
            if source:
                current.via.add(source)
    return pins, header


def read_requirements(path: Path) -> list[tuple[int, Requirement]]:
    out = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise SystemExit(
                f"{path.name}:{number}: {line!r} is not a requirement: {exc}"
            ) from None
        if requirement.marker is None or requirement.marker.evaluate(TARGET):
            out.append((number, requirement))
    return out


def lock_command(makefile: Path) -> list[str]:
    """The `uv pip compile` arguments of the Makefile's `lock` recipe."""
    text = makefile.read_text().replace("\\\n", " ")
    recipe = re.search(r"^lock:.*?\n((?:\t.*\n)+)", text, re.M)
    if not recipe:
        raise SystemExit(f"{makefile}: no `lock:` target")
    line = next((x for x in recipe.group(1).splitlines() if "pip compile" in x), "")
    words = shlex.split(line)
    return words[words.index("compile") + 1 :] if "compile" in words else []


def check(root: Path = REPO_ROOT) -> list[str]:
    """Every way requirements.lock differs from requirements.in, one line each."""
    lock = root / "requirements.lock"
    pins, header = read_lock(lock)
    problems = []
    wanted = set()
    for source in ("requirements.in", "requirements.overrides"):
        for number, req in read_requirements(root / source):
            wanted.add(canonicalize_name(req.name))
            pin = pins.get(canonicalize_name(req.name))
            where = f"{source}:{number} {req}"
            if pin is None:
                problems.append(f"{where}: not in requirements.lock")
            elif req.specifier and not req.specifier.contains(pin.version, prereleases=True):
                problems.append(f"{where}: requirements.lock:{pin.line} pins {pin.version}")
    for locked, pin in sorted(pins.items()):
        if "-r requirements.in" in pin.via and locked not in wanted:
            problems.append(
                f"requirements.lock:{pin.line} {locked}=={pin.version} is there for "
                f"requirements.in, which no longer names it"
            )
        if pin.hashes == 0:
            problems.append(f"requirements.lock:{pin.line} {locked}=={pin.version} has no hash")
    expected = lock_command(root / "Makefile")
    got = shlex.split(header)[3:] if header.startswith("uv pip compile") else []
    if expected and got != expected:
        problems.append(
            f"requirements.lock header: compiled with `uv pip compile {' '.join(got)}`, "
            f"`make lock` runs `uv pip compile {' '.join(expected)}`"
        )
    return problems


def main(root: Path = REPO_ROOT) -> int:
    problems = check(root)
    if problems:
        print("requirements.lock does not match requirements.in:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(FIX, file=sys.stderr)
        return 1
    print("requirements.lock matches requirements.in and requirements.overrides")
    return 0


if __name__ == "__main__":
    sys.exit(main())
