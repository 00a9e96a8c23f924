"""Generated bad input for the `mlops` command: exit 2 and one line, never a traceback or 0.

Environment names, model versions, paths and CSV files built from the curated schema with one
column dropped or one cell corrupted. The commands run in-process through `mlops.cli.main`;
every case fails before any server, store or pipeline is touched, so each takes milliseconds.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tensorflow_metadata.proto.v0 import schema_pb2

from core import config
from mlops import cli
from store import rows as R
from tests.support import project

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
KNOWN = config.available_environments()
DATA = project.SPANS[0]
SCHEMA = R.load_schema()
FEATURES = {f.name: f for f in SCHEMA.feature}
# Columns only the label is computed from: a serving row may leave them out.
LABEL_ONLY = {f.name for f in SCHEMA.feature} - {f.name for f in R.serving_features(SCHEMA)}
with DATA.open() as _f:
    _TABLE = list(csv.reader(_f))[:6]
HEADER, BODY = _TABLE[0], _TABLE[1:]


def one_line_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run the CLI; it must exit 2 with exactly one message line on stderr, nothing on stdout."""
    code: int | str | None
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (argv, code, out, err)
    assert "Traceback" not in err and "unexpected failure" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    if lines[0].startswith("usage: "):  # argparse: the (wrapped) usage, then one error line
        lines = [line for line in lines if line.startswith("mlops")]
    assert len(lines) == 1, err
    return lines[0]


# --- environment names --------------------------------------------------------------------------

names = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(
        [
            "production",
            "../dev",
            "./dev",
            "dev/",
            "Dev",
            "base",
            "dev\n",
            " dev",
            "/etc",
            "..",
            "prod;rm -rf /",
        ]
    ),
).filter(lambda n: n not in KNOWN)

commands = st.sampled_from(
    [
        ["rollback", "--env"],
        ["promote", "--to"],
        ["config", "--env"],
        ["serve", "--env"],
        ["predict", "--rows", "x.csv", "--env"],
        ["promote", "--to", "staging", "--from"],
        ["render", "--env"],
    ]
)


@SETTINGS
@given(name=names, command=commands)
def test_unknown_environment_names(capsys, name: str, command: list[str]) -> None:
    line = one_line_error(capsys, [*command, name])
    if "error: argument" not in line:  # argparse takes a name like "-x" for an option
        assert f"unknown environment {name!r}" in line and ", ".join(KNOWN) in line


# --- model versions -----------------------------------------------------------------------------


@SETTINGS
@given(
    version=st.one_of(
        st.integers(-(10**12), 10**12).filter(lambda v: v != 1001).map(str),
        st.text(min_size=1, max_size=8).filter(lambda t: not t.strip().lstrip("+-").isdigit()),
    )
)
def test_versions_the_store_lacks_or_that_are_not_numbers(capsys, version: str) -> None:
    from tests.support.stores import fake_model

    with tempfile.TemporaryDirectory() as tmp:
        fake_model(Path(tmp) / "model_store" / project.MODEL / "1001", 1001)
        line = one_line_error(
            capsys, ["serve", "--env", "dev", "--output", tmp, f"--version={version}", "--detach"]
        )
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["model_store"]
    try:
        number = int(version)
    except ValueError:
        assert "argument --version: invalid int value" in line
    else:
        assert f"--version: version {number} is not in the model store" in line
        assert "(versions there: 1001)" in line


# --- paths --------------------------------------------------------------------------------------

contents = st.one_of(
    st.just(None),  # no such file
    st.just("dir"),  # a folder
    st.binary(max_size=64).filter(lambda b: b.strip()),
    st.text(max_size=80),
)


@SETTINGS
@given(
    content=contents,
    command=st.sampled_from(
        [
            ["predict", "--env", "dev", "--rows"],
            ["loadtest", "--env", "dev", "--url", "http://127.0.0.1:9", "--rows"],
        ]
    ),
)
def test_row_files_that_are_not_schema_csv(capsys, content, command: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        if content == "dir":
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        line = one_line_error(capsys, [*command, str(path)])
    assert "--rows: " in line and str(path) in line


@SETTINGS
@given(folder=st.text(min_size=1, max_size=10).filter(lambda t: "\x00" not in t))
def test_environment_folders_that_do_not_exist(capsys, folder: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / folder
        assume(not path.exists())
        line = one_line_error(capsys, ["--environments", str(path), "status"])
    assert "--environments" in line and "no such folder" in line


# --- CSV files from the schema, one column dropped or one cell corrupted -------------------------

REQUIRED = [
    c for c in HEADER if c in FEATURES and R.is_required(FEATURES[c]) and c not in LABEL_ONLY
]
TYPED = [
    c
    for c in HEADER
    if c in FEATURES
    and FEATURES[c].type in (schema_pb2.INT, schema_pb2.FLOAT)
    and c not in LABEL_ONLY
]


def _csv(header: list[str], body: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([header, *body])
    return out.getvalue()


@st.composite
def broken_csv(draw: st.DrawFn) -> tuple[str, str, str]:
    """(CSV text, what the message must name, the kind of damage)."""
    header, body = list(HEADER), [list(r) for r in BODY]
    kind = draw(
        st.sampled_from(
            [
                "drop column",
                "empty required cell",
                "text in a number",
                "fraction in an int",
                "missing cell",
                "extra cell",
                "misspelt header",
            ]
        )
    )
    row = draw(st.integers(0, len(body) - 1))
    line = f":{row + 2}"
    if kind in ("drop column", "misspelt header"):
        column = draw(st.sampled_from(REQUIRED))
        col = header.index(column)
        if kind == "drop column":
            header.pop(col)
            for r in body:
                r.pop(col)
        else:
            header[col] = column[:-1] + ("X" if column[-1] != "X" else "Y")
        return _csv(header, body), f"required column(s) '{column}' missing", kind
    if kind == "empty required cell":
        column = draw(st.sampled_from(REQUIRED))
        body[row][header.index(column)] = ""
        return _csv(header, body), f"{line}: required field '{column}' has no value", kind
    if kind in ("text in a number", "fraction in an int"):
        pool = (
            TYPED
            if kind == "text in a number"
            else [c for c in TYPED if FEATURES[c].type == schema_pb2.INT]
        )
        column = draw(st.sampled_from(pool))
        value = (
            draw(st.sampled_from(["n/a", "abc", "1,5", "--1", "inf?", "nan"]))
            if kind == "text in a number"
            else "7.5"
        )
        body[row][header.index(column)] = value
        return _csv(header, body), f"{line}: field '{column}': value {value!r}", kind
    if kind == "missing cell":
        body[row].pop(draw(st.integers(0, len(header) - 1)))
        return _csv(header, body), f"{line}: {len(header) - 1} cells", kind
    body[row].append("extra")
    return _csv(header, body), f"{line}: {len(header) + 1} cells", kind


@settings(SETTINGS, max_examples=60)
@given(
    case=broken_csv(),
    command=st.sampled_from(
        [
            ["predict", "--env", "dev", "--rows"],
            ["loadtest", "--env", "dev", "--url", "http://127.0.0.1:9", "--rows"],
        ]
    ),
)
def test_csv_with_one_column_dropped_or_one_cell_corrupted(capsys, case, command) -> None:
    text, expected, _kind = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        path.write_text(text)
        line = one_line_error(capsys, [*command, str(path)])
    assert f"--rows: {path}" in line and expected in line, line


def test_the_untouched_rows_are_accepted() -> None:
    """The baseline the damage is applied to is itself valid."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        path.write_text(_csv(HEADER, BODY))
        assert len(R.read_csv(path, SCHEMA)) == len(BODY)


# --- server URLs --------------------------------------------------------------------------------

urls = st.one_of(
    st.sampled_from(
        [
            "localhost:8501",
            "127.0.0.1:8501",
            "ftp://localhost:8501",
            "htp://localhost:8501",
            "http:/localhost:8501",
            "//localhost:8501",
            "http://",
            "https:///v1",
            "",
        ]
    ),
    st.text(max_size=24).filter(lambda t: "\x00" not in t),
).filter(lambda u: not re.match(r"https?://[^/?#]", u))


@SETTINGS
@given(url=urls, command=st.sampled_from(["predict", "loadtest"]))
def test_rest_urls_without_http_ask_for_it(capsys, url: str, command: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = Path(tmp) / "rows.csv"
        rows.write_text(_csv(HEADER, BODY))
        line = one_line_error(
            capsys, [command, "--env", "dev", "--rows", str(rows), f"--url={url}"]
        )
    assert f"--url {url!r}: a REST URL starts with http:// or https:// and names a host" in line
