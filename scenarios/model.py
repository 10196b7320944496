"""A practice scenario: who the customer is, what they say, and what the trainee may rely on.

Scenarios are TOML files (scenarios/library/*.toml, or a trainer's own folder); ``parse_scenario``
checks one against the schema and the rubric and reports every problem with file, line and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from analysis.content import Rubric, ScoringContext
from scenarios.rubric import GUIDES
from scenarios.toml_source import DataFileError, Problem, TomlSource, read_toml

SETTINGS = ("store_counter", "returns_desk", "checkout", "phone", "delivery", "restaurant",
            "service_desk", "shop_floor")
MAX_ANGER = 4
LINE_KINDS = ("opening", "details", "repeat", "accept", "manager", "threat", "resolved", "walkout")
"""What the customer can say: opening complaint; more details once listened to; the complaint
again, louder, when ignored; accepting an option; demanding a manager; threatening (safety
scenarios); the closing line when resolved; the parting shot when walking out."""
REQUIRED_LINES = ("opening", "details", "repeat", "accept", "resolved", "walkout")


@dataclass(frozen=True)
class Persona:
    name: str
    voice: str
    """espeak-ng voice, e.g. "en-us+f3"."""
    anger: int
    """Starting anger, 0 (calm) to 4 (furious)."""


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    setting: str
    difficulty: int
    source: tuple[str, ...]
    persona: Persona
    lines: dict[str, tuple[str, ...]]
    """Customer lines by kind (see LINE_KINDS); each kind has one or more variants."""
    facts: tuple[str, ...]
    """What the trainee may rely on: what policy allows, what a supervisor can approve."""
    focus: tuple[str, ...]
    """Rubric items that matter most here (their weight is doubled)."""
    model_answer: str
    safety: bool = False
    """Violent or intoxicated customer: stop reasoning, keep distance, call security."""
    weights: dict[str, float] = field(default_factory=dict)
    """Explicit multipliers on rubric item weights (override the focus doubling)."""
    max_turns: int = 4
    path: str = ""

    def scoring_context(self, customer_end_s: float | None = None) -> ScoringContext:
        weights = {item: 2.0 for item in self.focus}
        weights.update(self.weights)
        return ScoringContext(weights=weights, safety=self.safety, customer_end_s=customer_end_s)

    def line(self, kind: str, index: int = 0) -> str | None:
        variants = self.lines.get(kind, ())
        return variants[index % len(variants)] if variants else None


def _text(src: TomlSource, key: str, problems: list[Problem]) -> str:
    value = _get(src.data, key)
    if not isinstance(value, str) or not value.strip():
        problems.append(src.problem(key, "must be a non-empty text"))
        return ""
    return " ".join(value.split())


def _get(data: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _texts(src: TomlSource, key: str, problems: list[Problem], required: bool = True) -> tuple[str, ...]:
    value = _get(src.data, key)
    if value is None and not required:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        problems.append(src.problem(key, "must be a text or a non-empty list of texts"))
        return ()
    out = []
    for text in value:
        if not isinstance(text, str) or not text.strip():
            problems.append(src.problem(key, "contains an empty line: remove it or write the line"))
        else:
            out.append(" ".join(text.split()))
    return tuple(out)


def parse_scenario(src: TomlSource, rubric: Rubric) -> Scenario:
    """Build a Scenario, or raise DataFileError listing every problem."""
    p: list[Problem] = []
    d = src.data
    sid = d.get("id")
    if not isinstance(sid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9\-]{1,60}", sid):
        p.append(src.problem("id", "needs an id of lower-case letters, digits and dashes"))
    title = _text(src, "title", p)
    if d.get("setting") not in SETTINGS:
        p.append(src.problem("setting", f"must be one of {', '.join(SETTINGS)}"))
    difficulty = d.get("difficulty")
    if not isinstance(difficulty, int) or isinstance(difficulty, bool) or not 1 <= difficulty <= 3:
        p.append(src.problem("difficulty", "must be 1, 2 or 3"))
    source = d.get("source")
    if not isinstance(source, list) or not source:
        p.append(src.problem("source", f"missing: list the guides it draws on, e.g. [\"000\", \"003\"]"))
        source = []
    for guide in source:
        if guide not in GUIDES:
            p.append(src.problem("source", f"unknown guide {guide!r}: use {', '.join(GUIDES)}"))
    name = _text(src, "persona.name", p)
    voice = _text(src, "persona.voice", p)
    anger = _get(d, "persona.anger")
    if not isinstance(anger, int) or isinstance(anger, bool) or not 0 <= anger <= MAX_ANGER:
        p.append(src.problem("persona.anger", f"must be a whole number from 0 to {MAX_ANGER}"))
    lines = {}
    for kind in LINE_KINDS:
        texts = _texts(src, f"lines.{kind}", p, required=kind in REQUIRED_LINES)
        if texts:
            lines[kind] = texts
    for kind in sorted(set(d.get("lines", {}) or {}) - set(LINE_KINDS)):
        p.append(src.problem(f"lines.{kind}", f"unknown kind of line: use {', '.join(LINE_KINDS)}"))
    safety = d.get("safety", False)
    if not isinstance(safety, bool):
        p.append(src.problem("safety", "must be true or false"))
    if safety and "threat" not in lines:
        p.append(src.problem("lines.threat", "a safety scenario needs the customer's threat line"))
    facts = _texts(src, "facts", p)
    focus = _texts(src, "focus", p)
    for item in focus:
        if item not in rubric.ids:
            p.append(src.problem("focus", f"unknown rubric item {item!r}"))
    weights = d.get("weights", {}) or {}
    if not isinstance(weights, dict):
        p.append(src.problem("weights", "must be a table of item = multiplier"))
        weights = {}
    for item, mult in weights.items():
        if item not in rubric.ids:
            p.append(src.problem(f"weights.{item}", f"unknown rubric item {item!r}"))
        elif not isinstance(mult, (int, float)) or isinstance(mult, bool) or not 0 <= mult <= 5:
            p.append(src.problem(f"weights.{item}", "must be a number from 0 to 5"))
    max_turns = d.get("max_turns", 4)
    if not isinstance(max_turns, int) or isinstance(max_turns, bool) or not 2 <= max_turns <= 5:
        p.append(src.problem("max_turns", "must be a whole number from 2 to 5"))
    model_answer = _text(src, "model_answer", p)
    known = {"id", "title", "setting", "difficulty", "source", "persona", "lines", "facts", "focus",
             "weights", "model_answer", "safety", "max_turns"}
    for key in sorted(set(d) - known):
        p.append(src.problem(key, "unknown field (check the spelling)"))
    if p:
        raise DataFileError(p)
    return Scenario(id=sid, title=title, setting=d["setting"], difficulty=difficulty,
                    source=tuple(source), persona=Persona(name, voice, anger), lines=lines,
                    facts=facts, focus=focus, model_answer=model_answer, safety=safety,
                    weights={k: float(v) for k, v in weights.items()}, max_turns=max_turns,
                    path=str(src.path))


def load_scenario(path: str | Path, rubric: Rubric) -> Scenario:
    return parse_scenario(read_toml(Path(path)), rubric)
