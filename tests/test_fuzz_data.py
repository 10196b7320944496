"""Trainer-supplied scenario and rubric files, fuzzed: they may be rejected, never crash the kiosk.

Two strategies: structured (every known field, filled with values of random types, the mistakes
people make when editing TOML by hand) and raw (valid files mutated character by character).
The only acceptable failure is DataFileError with located problems; the library loader must skip
bad files and keep the good ones.
"""

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.library import BUILTIN_DIR, load_library, validate_dir
from scenarios.model import parse_scenario
from scenarios.rubric import RUBRIC_PATH, load_rubric, parse_rubric
from scenarios.toml_source import DataFileError, read_toml

SCENARIO_KEYS = [
    "id",
    "title",
    "setting",
    "difficulty",
    "source",
    "facts",
    "focus",
    "weights",
    "model_answer",
    "safety",
    "max_turns",
    "persona",
    "lines",
]
ITEM_KEYS = [
    "id",
    "description",
    "source",
    "weight",
    "penalty",
    "applies",
    "tip",
    "patterns",
    "unless",
    "examples",
    "counter_examples",
]

scalars = st.one_of(
    st.text(max_size=20),
    st.integers(-10, 10),
    st.floats(allow_nan=True),
    st.booleans(),
    st.just(""),
    st.just("003"),
    st.just("defuse-apologise"),
    st.just("(unclosed"),
    st.just("apology"),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=8), inner, max_size=4),
    ),
    max_leaves=10,
)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else ("-inf" if v == float("-inf") else repr(v)))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return (
            '"'
            + v.replace("\\", "\\\\").replace('"', '\\"').encode("unicode_escape").decode().replace('\\\\"', '\\"')
            + '"'
        )
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"


def _check(path: Path, parse) -> None:
    try:
        parse(read_toml(path))
    except DataFileError as exc:
        assert exc.problems and all(p.file == str(path) for p in exc.problems)
        assert "\n" not in str(exc.problems[0])


_settings = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@_settings
@given(fields=st.dictionaries(st.sampled_from(SCENARIO_KEYS), values, max_size=len(SCENARIO_KEYS)))
def test_structured_scenarios_never_crash(tmp_path, fields):
    path = tmp_path / "s.toml"
    path.write_text("\n".join(f"{k} = {_toml_value(v)}" for k, v in fields.items()))
    rubric = load_rubric()
    _check(path, lambda src: parse_scenario(src, rubric))


@_settings
@given(items=st.lists(st.dictionaries(st.sampled_from(ITEM_KEYS), values, max_size=len(ITEM_KEYS)), max_size=4))
def test_structured_rubrics_never_crash(tmp_path, items):
    path = tmp_path / "rubric.toml"
    path.write_text(
        "\n".join("[[item]]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in item.items()) for item in items)
    )
    _check(path, parse_rubric)


def _mutations(text: str):
    return st.lists(
        st.tuples(
            st.integers(0, max(0, len(text) - 1)),
            st.sampled_from(["delete", "insert", "replace"]),
            st.sampled_from(list("\"[]=\n#{}., 0a\\'") + ["\x00", "é", "\ufeff"]),
        ),
        min_size=1,
        max_size=6,
    )


SCENARIO_TEXT = (BUILTIN_DIR / "late-delivery.toml").read_text()
RUBRIC_TEXT = RUBRIC_PATH.read_text()


@_settings
@given(edits=_mutations(SCENARIO_TEXT))
def test_mutated_scenario_files_never_crash(tmp_path, edits):
    text = SCENARIO_TEXT
    for pos, op, ch in edits:
        pos = min(pos, len(text))
        text = {
            "delete": text[:pos] + text[pos + 1 :],
            "insert": text[:pos] + ch + text[pos:],
            "replace": text[:pos] + ch + text[pos + 1 :],
        }[op]
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    rubric = load_rubric()
    _check(path, lambda src: parse_scenario(src, rubric))


@_settings
@given(edits=_mutations(RUBRIC_TEXT))
def test_mutated_rubric_files_never_crash(tmp_path, edits):
    text = RUBRIC_TEXT
    for pos, op, ch in edits:
        pos = min(pos, len(text))
        text = {
            "delete": text[:pos] + text[pos + 1 :],
            "insert": text[:pos] + ch + text[pos:],
            "replace": text[:pos] + ch + text[pos + 1 :],
        }[op]
    path = tmp_path / "rubric.toml"
    path.write_text(text, encoding="utf-8")
    _check(path, parse_rubric)


def test_binary_and_undecodable_files_are_reported(tmp_path):
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    (tmp_path / "latin1.toml").write_bytes('title = "caf\xe9"'.encode("latin-1"))
    good, problems = validate_dir(tmp_path, load_rubric())
    assert not good and {Path(p.file).name for p in problems} == {"binary.toml", "latin1.toml"}


def test_a_trainer_folder_of_junk_never_stops_the_library(tmp_path, monkeypatch):
    (tmp_path / "junk.toml").write_text('id = "x"\n[persona\nname = 1')
    (tmp_path / "empty.toml").write_text("")
    (tmp_path / "copy.toml").write_text(SCENARIO_TEXT)  # duplicate id of a built-in
    monkeypatch.setenv("KIOSK_SCENARIOS_DIR", str(tmp_path))
    library = load_library()
    assert "late-delivery" in library.scenarios
    assert {Path(p.file).name for p in library.problems} == {"junk.toml", "empty.toml", "copy.toml"}
