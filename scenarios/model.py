"""A practice scenario: who the customer is, what they say, and what the trainee may rely on.

Scenarios are TOML files (scenarios/library/*.toml, or a trainer's own folder); ``parse_scenario``
checks one against the schema and the rubric and reports every problem with file, line and field,
so a trainer can fix a file without reading Python. docs/scenarios.md describes the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analysis.content import Rubric, ScoringContext
from scenarios.guide import load_guide
from scenarios.toml_source import DataFileError, Problem, TomlSource

SETTINGS = (
    "store_counter",
    "returns_desk",
    "checkout",
    "phone",
    "delivery",
    "restaurant",
    "service_desk",
    "shop_floor",
)
MAX_ANGER = 4
MAX_NEEDS_HEARD = 3

LINE_KINDS = (
    "opening",
    "details",
    "repeat",
    "manager",
    "misfit",
    "accept",
    "handover",
    "resolved",
    "walkout",
    "threat",
)
"""What the customer can say: the opening complaint; more details once listened to; the complaint
again when not acknowledged (louder, because anger drives the voice); a demand for a manager when
stonewalled; the retort to an offer that has nothing to do with their problem; accepting an
option; the line as they are handed to a supervisor or as security arrives; the closing line when
resolved; the parting shot when walking out; a threat (safety scenarios only)."""

REQUIRED_LINES = ("opening", "details", "repeat", "misfit", "accept", "resolved", "walkout")
SAFETY_REQUIRED_LINES = ("opening", "threat", "handover", "walkout")
"""A violent or drunk customer is never talked round, so they need no accept or resolved line."""

LINE_FALLBACKS = {
    "details": "repeat",
    "manager": "repeat",
    "misfit": "repeat",
    "handover": "accept",
    "threat": "repeat",
    "accept": "resolved",
    "resolved": "opening",
    "repeat": "opening",
    "walkout": "opening",
}
"""The kind said instead when a scenario has no line of the wanted kind; every chain ends at the
opening line, which every scenario has."""

_ID = re.compile(r"[a-z0-9][a-z0-9\-]{1,60}")
ENGLISH_VOICES = ("en", "en-us", "en-029", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
"""espeak-ng voice files pyttsx3 can select by name. "en-gb" is a language code, not a file: set
by name it is silently ignored and the previous line's voice is kept (measured: "en-gb+f4" came
out at 203 Hz after a female voice and 91 Hz after a male one), so British English is "en"."""
_VOICE = re.compile(r"(?P<base>[a-z0-9\-]+)(\+[A-Za-z0-9]+)?")
_FIELDS = {
    "id",
    "title",
    "setting",
    "difficulty",
    "source",
    "persona",
    "lines",
    "facts",
    "focus",
    "weights",
    "model_answer",
    "safety",
    "max_turns",
    "resolution",
}
_PERSONA_FIELDS = {"name", "voice", "anger", "needs_heard"}
_RESOLUTION_FIELDS = {"needs", "remedies", "not_remedies"}
MIN_REMEDIES = 2
"""Remedies a customer who can be satisfied needs at least: a choice (guide rule method-options:
offer more than one solution), and several phrasings of what would settle it."""


@dataclass(frozen=True)
class Persona:
    name: str
    voice: str
    """espeak-ng voice (one of ENGLISH_VOICES) with an optional variant, e.g. "en-us+f3" (an
    unknown variant falls back to the plain voice)."""
    anger: int
    """Starting anger, 0 (calm) to 4 (furious)."""
    needs_heard: int = 1
    """Answers in which this customer must feel heard before accepting any solution: 2 or 3 for
    a customer who keeps repeating the same complaint (guide rule defuse-more-empathy)."""


@dataclass(frozen=True)
class Resolution:
    """What this customer came for, so an offer can be judged against their problem rather than
    by its kind (analysis.offer_fit)."""

    needs: tuple[str, ...]
    """What the customer needs, in plain words (a safety scenario: distance and security)."""
    remedies: tuple[str, ...] = ()
    """Offers that would settle it, one offer per entry, in several phrasings and kinds. Empty
    in a safety scenario: security settles it, not an offer."""
    not_remedies: tuple[str, ...] = ()
    """Offers that miss it however politely made (a delivery slot for a television that sold
    out, a refund of something never bought)."""
    rivals: tuple[str, ...] = ()
    """The other scenarios' remedies, filled in by the library (scenarios.library): an offer
    nearer one of them than to every remedy here answers somebody else's problem."""


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    setting: str
    difficulty: int
    source: tuple[str, ...]
    """Ids of the guide rules it practises (scenarios/guide.toml)."""
    persona: Persona
    lines: dict[str, tuple[str, ...]]
    """Customer lines by kind (see LINE_KINDS); each kind has one or more variants."""
    facts: tuple[str, ...]
    """What the trainee may rely on: what policy allows, what a supervisor can approve."""
    focus: tuple[str, ...]
    """Rubric items that matter most here (their weight is doubled)."""
    model_answer: str
    resolution: Resolution = Resolution(())
    safety: bool = False
    """Violent or intoxicated customer: stop reasoning, keep distance, call security."""
    weights: dict[str, float] = field(default_factory=dict)
    """Explicit multipliers on rubric item weights (override the focus doubling)."""
    max_turns: int = 4
    """Answers after which the customer leaves, resolved or not (2-5)."""
    path: str = ""

    def scoring_context(self, customer_end_s: float | None = None) -> ScoringContext:
        weights = {item: 2.0 for item in self.focus}
        weights.update(self.weights)
        return ScoringContext(
            weights=weights,
            safety=self.safety,
            customer_end_s=customer_end_s,
            remedies=self.resolution.remedies,
            not_remedies=self.resolution.not_remedies + self.resolution.rivals,
        )

    def line(self, kind: str, index: int = 0) -> str | None:
        """Variant ``index`` (cycling) of the lines of this kind, or None if there are none."""
        variants = self.lines.get(kind, ())
        return variants[index % len(variants)] if variants else None

    def say(self, kind: str, index: int = 0) -> str:
        """Like ``line``, but falls back along LINE_KINDS's fallbacks so there is always a line."""
        while kind not in self.lines:
            kind = LINE_FALLBACKS[kind]
        return self.line(kind, index)


def _get(data: object, dotted: str):
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _is_int_in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _text(src: TomlSource, key: str, problems: list[Problem]) -> str:
    value = _get(src.data, key)
    if not isinstance(value, str) or not value.strip():
        problems.append(src.problem(key, "missing or empty: write the text"))
        return ""
    return " ".join(value.split())


def _texts(src: TomlSource, key: str, problems: list[Problem], required: bool = True) -> tuple[str, ...]:
    value = _get(src.data, key)
    if value is None:
        if required:
            problems.append(src.problem(key, "missing: give a text or a list of texts"))
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        problems.append(src.problem(key, "must be a text or a non-empty list of texts"))
        return ()
    out = []
    for n, text in enumerate(value):
        if not isinstance(text, str) or not text.strip():
            problems.append(src.problem(f"{key}.{n}", "empty line: remove it or write the line"))
        else:
            out.append(" ".join(text.split()))
    return tuple(out)


def _header(src: TomlSource, p: list[Problem]) -> None:
    d = src.data
    for key in sorted(set(d) - _FIELDS):
        p.append(src.problem(key, "unknown field (check the spelling)"))
    if not isinstance(d.get("id"), str) or not _ID.fullmatch(d["id"]):
        p.append(src.problem("id", "needs an id of lower-case letters, digits and dashes"))
    if d.get("setting") not in SETTINGS:
        p.append(src.problem("setting", f"must be one of {', '.join(SETTINGS)}"))
    if not _is_int_in(d.get("difficulty"), 1, 3):
        p.append(src.problem("difficulty", "must be 1, 2 or 3"))
    source = d.get("source")
    if not isinstance(source, list) or not source:
        p.append(src.problem("source", 'missing: list the guide rules it practises, e.g. ["defuse-apologise"]'))
    else:
        rules = load_guide().ids
        for n, rule in enumerate(source):
            if not isinstance(rule, str) or rule not in rules:
                p.append(src.problem(f"source.{n}", f"unknown guide rule {rule!r}: use an id from docs/guide.md"))
    if not isinstance(d.get("safety", False), bool):
        p.append(src.problem("safety", "must be true or false"))
    if not _is_int_in(d.get("max_turns", 4), 2, 5):
        p.append(src.problem("max_turns", "must be a whole number from 2 to 5"))


def _persona(src: TomlSource, p: list[Problem]) -> Persona:
    raw = src.data.get("persona")
    if not isinstance(raw, dict):
        p.append(src.problem("persona", "missing: add a [persona] table with name, voice and anger"))
        return Persona("", "", 0)
    for key in sorted(set(raw) - _PERSONA_FIELDS):
        p.append(src.problem(f"persona.{key}", "unknown field (check the spelling)"))
    name = _text(src, "persona.name", p)
    voice = _text(src, "persona.voice", p)
    match = _VOICE.fullmatch(voice)
    if voice and (match is None or match["base"] not in ENGLISH_VOICES):
        p.append(
            src.problem(
                "persona.voice",
                f'unknown voice {voice!r}: use one of {", ".join(ENGLISH_VOICES)}, optionally with a variant ("en+f3")',
            )
        )
    anger = raw.get("anger")
    if not _is_int_in(anger, 0, MAX_ANGER):
        p.append(src.problem("persona.anger", f"must be a whole number from 0 to {MAX_ANGER}"))
    needs_heard = raw.get("needs_heard", 1)
    if not _is_int_in(needs_heard, 1, MAX_NEEDS_HEARD):
        p.append(src.problem("persona.needs_heard", f"must be a whole number from 1 to {MAX_NEEDS_HEARD}"))
    return Persona(name, voice, anger, needs_heard)


def _lines(src: TomlSource, safety: bool, p: list[Problem]) -> dict[str, tuple[str, ...]]:
    raw = src.data.get("lines")
    if not isinstance(raw, dict):
        p.append(src.problem("lines", "missing: add a [lines] table with what the customer says"))
        return {}
    for kind in sorted(set(raw) - set(LINE_KINDS)):
        p.append(src.problem(f"lines.{kind}", f"unknown kind of line: use {', '.join(LINE_KINDS)}"))
    required = SAFETY_REQUIRED_LINES if safety else REQUIRED_LINES
    lines = {}
    for kind in LINE_KINDS:
        texts = _texts(src, f"lines.{kind}", p, required=kind in required)
        if texts:
            lines[kind] = texts
    if "threat" in lines and not safety:
        p.append(src.problem("lines.threat", "threats belong to safety scenarios: add safety = true"))
    return lines


def _scoring(
    src: TomlSource, rubric: Rubric, safety: bool, p: list[Problem]
) -> tuple[tuple[str, ...], dict[str, float]]:
    focus = _texts(src, "focus", p)
    for item in focus:
        if item not in rubric.ids:
            p.append(src.problem("focus", f"unknown rubric item {item!r}"))
        elif (applies := rubric.get(item).applies) != "always" and (applies == "safety") != safety:
            where = "safety" if applies == "safety" else "non-safety"
            p.append(src.problem("focus", f"{item!r} is only scored in {where} scenarios"))
    weights = src.data.get("weights", {})
    if not isinstance(weights, dict):
        p.append(src.problem("weights", "must be a table of item = multiplier"))
        weights = {}
    good = {}
    for item, mult in weights.items():
        if item not in rubric.ids:
            p.append(src.problem(f"weights.{item}", f"unknown rubric item {item!r}"))
        elif isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 0 <= mult <= 5:
            p.append(src.problem(f"weights.{item}", "must be a number from 0 to 5"))
        else:
            good[item] = float(mult)
    return focus, good


def _resolution(src: TomlSource, safety: bool, p: list[Problem]) -> Resolution:
    raw = src.data.get("resolution")
    if not isinstance(raw, dict):
        p.append(
            src.problem(
                "resolution",
                "missing: add a [resolution] table with needs, remedies "
                "and not_remedies (a safety scenario: needs only)",
            )
        )
        return Resolution(())
    for key in sorted(set(raw) - _RESOLUTION_FIELDS):
        p.append(src.problem(f"resolution.{key}", "unknown field (check the spelling)"))
    needs = _texts(src, "resolution.needs", p)
    if safety:
        for key in ("remedies", "not_remedies"):
            if key in raw:
                p.append(
                    src.problem(
                        f"resolution.{key}",
                        "a safety scenario is settled by security, "
                        "not an offer: remove it and say what they need in needs",
                    )
                )
        return Resolution(needs)
    remedies = _texts(src, "resolution.remedies", p)
    if remedies and len(remedies) < MIN_REMEDIES:
        p.append(src.problem("resolution.remedies", f"give at least {MIN_REMEDIES} offers that would settle it"))
    not_remedies = _texts(src, "resolution.not_remedies", p)
    for text in set(remedies) & set(not_remedies):
        p.append(src.problem("resolution.not_remedies", f"{text!r} is also a remedy"))
    return Resolution(needs, remedies, not_remedies)


def parse_scenario(src: TomlSource, rubric: Rubric) -> Scenario:
    """Build a Scenario, or raise DataFileError listing every problem."""
    p: list[Problem] = []
    _header(src, p)
    safety = src.data.get("safety", False) is True
    title = _text(src, "title", p)
    persona = _persona(src, p)
    lines = _lines(src, safety, p)
    facts = _texts(src, "facts", p)
    focus, weights = _scoring(src, rubric, safety, p)
    model_answer = _text(src, "model_answer", p)
    resolution = _resolution(src, safety, p)
    if p:
        raise DataFileError(p)
    d = src.data
    return Scenario(
        id=d["id"],
        title=title,
        setting=d["setting"],
        difficulty=d["difficulty"],
        source=tuple(d["source"]),
        persona=persona,
        lines=lines,
        facts=facts,
        focus=focus,
        model_answer=model_answer,
        resolution=resolution,
        safety=safety,
        weights=weights,
        max_turns=d.get("max_turns", 4),
        path=str(src.path),
    )
