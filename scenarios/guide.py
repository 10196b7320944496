"""Load and validate the coaching guide (scenarios/guide.toml) into analysis.guide.Guide."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.delivery import VERDICT_RULES
from analysis.guide import Guide, Rule, Source
from scenarios.toml_source import DataFileError, Problem, TomlSource, read_toml

if TYPE_CHECKING:
    from analysis.content import Rubric
    from analysis.scorecard import Goal
    from scenarios.model import Scenario

GUIDE_PATH = Path(__file__).with_name("guide.toml")
_SOURCE_FIELDS = ("id", "title", "about", "legacy")
_RULE_FIELDS = ("id", "name", "group", "text")
_RULE_ID = re.compile(r"[a-z]+(-[a-z0-9]+)+")
_MIN_SENTENCES, _MAX_SENTENCES = 2, 4
"""A rule is read on a tap at the kiosk: long enough to say why, short enough to read standing."""


def _fields(
    src: TomlSource, key: str, raw: object, names: tuple[str, ...], problems: list[Problem]
) -> dict[str, str] | None:
    """The table's text fields, stripped; None (with the problems noted) if any is missing."""
    if not isinstance(raw, dict):
        problems.append(src.problem(key, "must be a table"))
        return None
    before = len(problems)
    for name in sorted(set(raw) - set(names)):
        problems.append(src.problem(f"{key}.{name}", "unknown field (check the spelling)"))
    for name in names:
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            problems.append(src.problem(f"{key}.{name}", "must be non-empty text"))
    if len(problems) > before:
        return None
    return {name: " ".join(raw[name].split()) for name in names}


def _sentences(text: str) -> int:
    return len(re.findall(r"[.!?][\"\u201d)]?(\s|$)", text))


def parse_guide(src: TomlSource) -> Guide:
    """Build the Guide, or raise DataFileError listing every problem (file:line: field: problem)."""
    problems: list[Problem] = []
    sources, rules = [], []
    for n, raw in enumerate(src.data.get("source") or []):
        fields = _fields(src, f"source.{n}", raw, _SOURCE_FIELDS, problems)
        if fields is not None:
            sources.append(Source(**fields))
    if not sources:
        problems.append(src.problem("source", "the guide needs [[source]] tables"))
    source_ids = {s.id for s in sources}
    seen: dict[str, int] = {}
    for n, raw in enumerate(src.data.get("rule") or []):
        key = f"rule.{n}"
        fields = _fields(src, key, raw, _RULE_FIELDS, problems)
        if fields is None:
            continue
        rule = Rule(**fields)
        if not _RULE_ID.fullmatch(rule.id):
            problems.append(src.problem(f"{key}.id", "lower-case words joined by dashes, e.g. defuse-apologise"))
        elif rule.source not in source_ids:
            problems.append(
                src.problem(f"{key}.id", f"must start with a source id and a dash: {', '.join(sorted(source_ids))}")
            )
        if rule.id in seen:
            problems.append(src.problem(f"{key}.id", f"duplicate id {rule.id!r} (first at rule {seen[rule.id]})"))
        seen.setdefault(rule.id, n)
        if not _MIN_SENTENCES <= _sentences(rule.text) <= _MAX_SENTENCES:
            problems.append(
                src.problem(f"{key}.text", f"{_MIN_SENTENCES} to {_MAX_SENTENCES} sentences, each ending in . ! or ?")
            )
        rules.append(rule)
    if not rules:
        problems.append(src.problem("rule", "the guide needs [[rule]] tables"))
    if problems:
        raise DataFileError(problems)
    return Guide(tuple(sources), tuple(rules))


def load_guide(path: str | Path | None = None) -> Guide:
    """The guide at ``path`` (default: the one shipped in this package)."""
    return _load_cached(Path(path) if path else GUIDE_PATH)


@functools.lru_cache(maxsize=4)
def _load_cached(path: Path) -> Guide:
    return parse_guide(read_toml(path))


def cited_by(rubric: Rubric, goals: Iterable[Goal] = ()) -> dict[str, list[str]]:
    """Per rule id, the rubric items ("`apology`"), scorecard goals and delivery verdicts that
    cite it."""
    out: dict[str, list[str]] = {}
    for item in rubric.items:
        out.setdefault(item.source, []).append(f"`{item.id}`")
    for goal in goals:
        out.setdefault(goal.source, []).append(f"goal `{goal.id}`")
    for verdict, rule in VERDICT_RULES.items():
        out.setdefault(rule, []).append(f"verdict `{verdict}`")
    return out


def practised_in(scenarios: Iterable[Scenario]) -> dict[str, list[str]]:
    """Per rule id, the ids of the scenarios whose ``source`` lists it, in the order given."""
    out: dict[str, list[str]] = {}
    for scenario in scenarios:
        for rule in scenario.source:
            out.setdefault(rule, []).append(scenario.id)
    return out


def guide_markdown(
    guide: Guide, cited_by: Mapping[str, Iterable[str]], practised_in: Mapping[str, Iterable[str]]
) -> str:
    """docs/guide.md: every rule by source, with its text, what cites it (``cited_by``: rule id to
    "`apology`", "goal `sorry`", "verdict `speak_slowly`"...) and the scenarios that practise it,
    rendered from the data so the page cannot drift from what the kiosk cites (a test compares
    the two)."""
    out = [
        "# The coaching guide",
        "",
        "Generated from `scenarios/guide.toml` by `python scripts/guide_doc.py`; do not edit by hand.",
        "",
        "These are the rules the kiosk coaches, paraphrased in the project's own words from five public",
        "guides on handling difficult customers. Every rubric item, scorecard goal, delivery verdict and",
        "scenario cites one of them by its id; a trainee sees the rule's name and where it comes from",
        '("Apologise for what went wrong — Defusing, step 5"), and on the kiosk a tap on that citation',
        "opens its text.",
        "A rule cited by nothing is still taught: the scenarios listed beside it practise it.",
        "",
    ]
    for source in guide.sources:
        out += [f"## {source.title}", "", source.about, ""]
        for rule in (r for r in guide.rules if r.source == source.id):
            cited = ", ".join(cited_by.get(rule.id, ())) or "nothing directly (what else checks it: docs/scenarios.md)"
            scenarios = ", ".join(f"`{s}`" for s in practised_in.get(rule.id, ())) or "none"
            out += [
                f"### {rule.name}",
                "",
                f"`{rule.id}` · {rule.group}",
                "",
                rule.text,
                "",
                f"- cited by: {cited}",
                f"- practised in: {scenarios}",
                "",
            ]
    return "\n".join(out)
