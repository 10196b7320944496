"""The project's own coaching guide as values: the rules every tip, rubric item and verdict cites.

The rules are data (scenarios/guide.toml, loaded by scenarios.guide); this module only holds
their shape, so analysis.feedback can turn a rule id into the words a trainee reads without
reaching into the scenarios package. A trainee sees a rule by its name and where it comes from
("Apologise for what went wrong — Defusing, step 5"), never by an id or a file number.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """One of the five public guides the rules are paraphrased from."""

    id: str
    """Prefix of its rules' ids ("defuse")."""
    title: str
    """How a trainee knows it ("Twelve steps to defuse")."""
    about: str
    """What it contributes, in a sentence."""
    legacy: str
    """The file prefix sessions stored before the guide existed cite it by ("003"), so their
    reports still name it in words."""


@dataclass(frozen=True)
class Rule:
    id: str
    """Stable, readable, prefixed by its source ("defuse-apologise"); data cites rules by it."""
    name: str
    """What to do, in a few words ("Apologise for what went wrong")."""
    group: str
    """Where in its source it comes from ("Defusing, step 5")."""
    text: str
    """The rule in the project's own words, two to four sentences."""

    @property
    def source(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def citation(self) -> str:
        return f"{self.name} \u2014 {self.group}"


@dataclass(frozen=True)
class Guide:
    sources: tuple[Source, ...]
    rules: tuple[Rule, ...]
    """In the order of the file: by source, then as the source tells them."""
    _by_id: dict[str, Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.rules})

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def citation(self, rule_id: str) -> str:
        """The rule as a trainee reads it: "Apologise for what went wrong — Defusing, step 5". A
        file prefix that an older stored session cites ("003") is named by its source's title
        instead; anything else unknown is shown as given rather than failing a report."""
        return self.rule(rule_id).citation if rule_id in self._by_id else self._unknown(rule_id)

    def name(self, rule_id: str) -> str:
        """The rule's name alone ("Apologise for what went wrong"); unknown ids as for ``citation``."""
        return self.rule(rule_id).name if rule_id in self._by_id else self._unknown(rule_id)

    def _unknown(self, cited: object) -> str:
        for source in self.sources:
            if source.legacy == str(cited):
                return source.title
        return str(cited)

    def text(self, rule_id: str) -> str:
        """The rule's text, or "" for a citation that is not a rule id."""
        return self.rule(rule_id).text if rule_id in self._by_id else ""

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._by_id)
