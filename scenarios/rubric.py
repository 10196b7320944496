"""Load and validate the rubric (scenarios/rubric.toml) into analysis.content.Rubric."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from pathlib import Path

from analysis import learned
from analysis.content import APPLIES, Rubric, RubricItem
from analysis.guide import Guide
from analysis.learned import ItemModels
from scenarios.guide import load_guide
from scenarios.toml_source import DataFileError, Problem, TomlSource, read_toml

log = logging.getLogger(__name__)
RUBRIC_PATH = Path(__file__).with_name("rubric.toml")

REQUIRED_IDS = frozenset(
    {
        "listen_acknowledge",
        "restate_problem",
        "apology",
        "empathy",
        "open_question",
        "options",
        "lets_together",
        "keepable_promise",
        "supervisor",
        "follow_up",
        "positive_close",
        "security",
        "sorry_you_feel",
        "calm_down",
        "blame_customer",
        "argue",
        "overpromise",
        "dismiss",
        "hide_behind_policy",
        "interrupt",
    }
)
"""The ids the issue names and the customer state machine reads; more are welcome."""


def _str_list(src: TomlSource, key: str, value: object, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(src.problem(key, "must be a list of non-empty strings"))
        return ()
    return tuple(value)


def _has_examples(raw: dict) -> bool:
    examples = raw.get("examples")
    return isinstance(examples, list) and bool(examples)


def _item(src: TomlSource, n: int, raw: dict, guide: Guide, problems: list[Problem]) -> RubricItem | None:
    key = f"item.{n}"
    before = len(problems)
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", item_id or ""):
        problems.append(src.problem(f"{key}.id", "needs an id of lower-case letters, digits and _"))
    for text_key in ("name", "description", "tip"):
        if not isinstance(raw.get(text_key), str) or not raw[text_key].strip():
            problems.append(src.problem(f"{key}.{text_key}", "must be a non-empty sentence"))
    if not isinstance(raw.get("source"), str) or raw["source"] not in guide.ids:
        problems.append(
            src.problem(
                f"{key}.source",
                "must be the id of the rule it checks in scenarios/guide.toml (docs/guide.md), e.g. defuse-apologise",
            )
        )
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 < weight <= 100:
        problems.append(src.problem(f"{key}.weight", "must be a number above 0 and at most 100"))
    threshold = raw.get("threshold", 0.0)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 <= threshold < 1:
        problems.append(src.problem(f"{key}.threshold", "must be a similarity from 0 (patterns only) to below 1"))
    elif threshold > 0 and not _has_examples(raw):
        problems.append(src.problem(f"{key}.threshold", "a semantic threshold needs examples to compare with"))
    if raw.get("applies", "always") not in APPLIES:
        problems.append(src.problem(f"{key}.applies", f"must be one of {', '.join(APPLIES)}"))
    if not isinstance(raw.get("penalty", False), bool):
        problems.append(src.problem(f"{key}.penalty", "must be true or false"))
    lists = {
        name: _str_list(src, f"{key}.{name}", raw.get(name), problems)
        for name in ("patterns", "unless", "examples", "counter_examples", "overlaps")
    }
    for name in ("examples", "counter_examples"):
        if not lists[name]:
            problems.append(src.problem(f"{key}.{name}", "every item needs at least one (trainers read them)"))
    for name in ("patterns", "unless"):
        for pattern in lists[name]:
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(src.problem(f"{key}.{name}", f"bad pattern {pattern!r}: {exc}"))
    unknown = set(raw) - {
        "id",
        "name",
        "description",
        "source",
        "weight",
        "penalty",
        "applies",
        "tip",
        "threshold",
        "patterns",
        "unless",
        "examples",
        "counter_examples",
        "overlaps",
    }
    for name in sorted(unknown):
        problems.append(src.problem(f"{key}.{name}", "unknown field (check the spelling)"))
    if len(problems) > before:
        return None
    return RubricItem(
        id=item_id,
        name=raw["name"].strip(),
        description=raw["description"].strip(),
        source=raw["source"],
        weight=float(weight),
        penalty=raw.get("penalty", False),
        applies=raw.get("applies", "always"),
        tip=raw["tip"].strip(),
        threshold=float(threshold),
        **lists,
    )


def parse_rubric(src: TomlSource, guide: Guide | None = None) -> Rubric:
    """Build the Rubric, or raise DataFileError listing every problem. Each item's ``source``
    must be a rule of ``guide`` (default: the shipped guide)."""
    guide = guide or load_guide()
    problems: list[Problem] = []
    raw_items = src.data.get("item")
    if not isinstance(raw_items, list) or not raw_items:
        raise DataFileError([src.problem("item", "the rubric needs [[item]] tables")])
    items, seen = [], {}
    for n, raw in enumerate(raw_items):
        item = _item(src, n, raw, guide, problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(src.problem(f"item.{n}.id", f"duplicate id {item.id!r} (first at item {seen[item.id]})"))
        seen[item.id] = n
        items.append(item)
    margin = src.data.get("margin", Rubric.margin)
    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 <= margin < 1:
        problems.append(src.problem("margin", "must be a similarity difference from 0 to below 1"))
    denials = _str_list(src, "denials", src.data.get("denials"), problems)
    for pattern in denials:
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(src.problem("denials", f"bad pattern {pattern!r}: {exc}"))
    for item in items:
        for other in item.overlaps:
            if other not in seen:
                problems.append(src.problem(f"item.{seen[item.id]}.overlaps", f"no item {other!r} to overlap with"))
    missing = REQUIRED_IDS - set(seen)
    if missing and not problems:
        problems.append(src.problem("item", f"missing required items: {', '.join(sorted(missing))}"))
    if problems:
        raise DataFileError(problems)
    return Rubric(tuple(items), float(margin), denials)


def load_rubric(path: str | Path | None = None) -> Rubric:
    """The rubric at ``path`` (default: the one shipped in this package)."""
    return _load_cached(Path(path) if path else RUBRIC_PATH)


def item_names(path: str | Path | None = None) -> dict[str, str]:
    """Item id -> the words a trainee reads ("apology" -> "you said sorry"), for screens and
    reports rendered from stored JSON, which carries ids only."""
    return {item.id: item.name for item in load_rubric(path).items}


@functools.lru_cache(maxsize=4)
def _load_cached(path: Path) -> Rubric:
    rubric = parse_rubric(read_toml(path))
    return dataclasses.replace(rubric, learned=_weights_for(rubric, weights_path(path)))


def weights_path(rubric_path: Path) -> Path:
    """Where the models learned for a rubric file live: beside it (rubric.weights.npz)."""
    return rubric_path.with_suffix(".weights.npz")


def _weights_for(rubric: Rubric, path: Path) -> ItemModels | None:
    """The learned models at ``path`` if they were trained for this very rubric. After an edit
    to the rubric they are stale (their inputs are its examples and patterns): the rubric is
    then scored by its nearest-neighbour matcher, with a warning, until they are retrained."""
    models = learned.load(path)
    if models is not None and models.rubric_fingerprint != learned.fingerprint(rubric):
        log.warning(
            "%s was trained for another version of %s; scoring without it (retrain: python scripts/train_rubric.py)",
            path.name,
            path.name.replace(".weights.npz", ".toml"),
        )
        return None
    return models


RULES_MARKER = "<!-- hand-written below: notes on the rubric that are not in the data -->"


def rubric_markdown(rubric: Rubric, guide: Guide | None = None) -> str:
    """docs/rubric.md: every item with the guide rule it checks, its weight and examples, rendered
    from the data so the page cannot drift from what is scored (a test compares the two)."""
    guide = guide or load_guide()
    out = [
        "# The rubric",
        "",
        "Generated from `scenarios/rubric.toml` by `python scripts/rubric_doc.py`; do not edit by hand.",
        "Each item checks one rule of the coaching guide ([guide.md](guide.md)), named here as a trainee",
        "sees it, with its id. Items earn points (weights are scaled so a scenario's applicable items sum",
        "to 100); penalties deduct their weight. `applies` says whether an item counts in every scenario,",
        "only with a violent or drunk customer (`safety`), or only without.",
        "",
    ]
    for title, penalty in (("Items", False), ("Penalties", True)):
        out += [
            f"## {title}",
            "",
            "| id | guide rule | weight | applies | what it asks | example | counter-example |",
            "| --- | --- | ---: | --- | --- | --- | --- |",
        ]
        for i in (i for i in rubric.items if i.penalty == penalty):
            cells = [
                f"`{i.id}`",
                f"{guide.citation(i.source)} (`{i.source}`)",
                f"{i.weight:g}",
                i.applies,
                i.description,
                i.examples[0],
                i.counter_examples[0],
            ]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out)
