"""Load and validate the scorecard's rules (scenarios/scorecard.toml) into analysis.scorecard types."""

from __future__ import annotations

import functools
from pathlib import Path

from analysis.content import Rubric
from analysis.scorecard import STAGES, Goal, ScorecardRules
from scenarios.guide import load_guide
from scenarios.toml_source import DataFileError, Problem, TomlSource, read_toml

RULES_PATH = Path(__file__).with_name("scorecard.toml")
_FIELDS = {"id", "name", "items", "stage", "weight", "source", "tip"}
DELIVERY_VERDICTS = ("speak_slowly", "lower_voice", "mirroring")


def _goal(src: TomlSource, n: int, raw: dict, rubric: Rubric, problems: list[Problem]) -> Goal | None:
    key = f"goal.{n}"
    before = len(problems)
    for text_key in ("id", "name", "tip"):
        if not isinstance(raw.get(text_key), str) or not raw[text_key].strip():
            problems.append(src.problem(f"{key}.{text_key}", "must be a non-empty string"))
    items = raw.get("items")
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        problems.append(src.problem(f"{key}.items", "must be a list of rubric item ids"))
    else:
        for item_id in items:
            if item_id not in rubric.ids:
                problems.append(src.problem(f"{key}.items", f"no rubric item {item_id!r}"))
            elif rubric.get(item_id).penalty:
                problems.append(src.problem(f"{key}.items", f"{item_id!r} is a penalty, not a goal"))
    if raw.get("stage") not in STAGES:
        problems.append(src.problem(f"{key}.stage", f"must be one of {', '.join(STAGES)}"))
    weight = raw.get("weight")
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 < weight <= 100:
        problems.append(src.problem(f"{key}.weight", "must be a number above 0 and at most 100"))
    if not isinstance(raw.get("source"), str) or raw["source"] not in load_guide().ids:
        problems.append(
            src.problem(
                f"{key}.source",
                "must be the id of a rule in scenarios/guide.toml (docs/guide.md), e.g. defuse-apologise",
            )
        )
    for name in sorted(set(raw) - _FIELDS):
        problems.append(src.problem(f"{key}.{name}", "unknown field (check the spelling)"))
    if len(problems) > before:
        return None
    return Goal(
        raw["id"], raw["name"].strip(), tuple(items), float(weight), raw["stage"], raw["source"], raw["tip"].strip()
    )


def _delivery(src: TomlSource, problems: list[Problem]) -> dict[str, float]:
    raw = src.data.get("delivery", {})
    if not isinstance(raw, dict):
        problems.append(src.problem("delivery", "must be a table of verdict = points"))
        return {}
    points = {}
    for verdict, value in raw.items():
        if verdict not in DELIVERY_VERDICTS:
            problems.append(src.problem(f"delivery.{verdict}", f"must be one of {', '.join(DELIVERY_VERDICTS)}"))
        elif not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 100:
            problems.append(src.problem(f"delivery.{verdict}", "must be points from 0 to 100"))
        else:
            points[verdict] = float(value)
    return points


def parse_rules(src: TomlSource, rubric: Rubric) -> ScorecardRules:
    raw_goals = src.data.get("goal")
    if not isinstance(raw_goals, list) or not raw_goals:
        raise DataFileError([src.problem("goal", "the scorecard needs [[goal]] tables")])
    problems: list[Problem] = []
    goals = [g for n, raw in enumerate(raw_goals) if (g := _goal(src, n, raw, rubric, problems))]
    ids = [g.id for g in goals]
    for n, goal_id in enumerate(ids):
        if goal_id in ids[:n]:
            problems.append(src.problem(f"goal.{n}.id", f"duplicate id {goal_id!r}"))
    delivery = _delivery(src, problems)
    if problems:
        raise DataFileError(problems)
    return ScorecardRules(tuple(goals), delivery)


@functools.lru_cache(maxsize=4)
def load_rules(rubric: Rubric, path: Path = RULES_PATH) -> ScorecardRules:
    """The scorecard's rules, checked against ``rubric`` (every item a goal names must exist)."""
    return parse_rules(read_toml(path), rubric)
