"""The rubric's shape and what a scenario changes about it.

The rubric itself is data (scenarios/rubric.toml, loaded by scenarios.rubric); these are the
values it loads into, shared by every matcher and by the training scripts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.learned import ItemModels

APPLIES = ("always", "safety", "non_safety")
MECHANICAL = frozenset({"interrupt", "reason_at_length"})
"""Items decided by timing or length, not by the words (no patterns, examples or models)."""


@dataclass(frozen=True)
class RubricItem:
    id: str
    description: str
    """What the item asks for, in words a trainee understands."""
    source: str
    """Id of the coaching-guide rule it checks ("defuse-apologise", scenarios/guide.toml)."""
    weight: float = 1.0
    """Relative weight among the items (scaled so the applicable items sum to 100 points);
    for penalties, the points deducted."""
    penalty: bool = False
    applies: str = "always"
    """"always", "safety" (violent or drunk customer) or "non_safety"."""
    tip: str = ""
    """Advice when the item is missed (or, for a penalty, when it is hit)."""
    patterns: tuple[str, ...] = ()
    """Regular expressions over the normalised transcript (lower case, no punctuation)."""
    unless: tuple[str, ...] = ()
    """Patterns that cancel a match they overlap (negation, sarcasm: "not blaming you")."""
    examples: tuple[str, ...] = ()
    """Sentences that earn the item; the semantic matcher compares the answer with them."""
    counter_examples: tuple[str, ...] = ()
    """Near misses that must not earn it; a sentence closer to one of these than to every
    example is not a match (this is how "sorry you feel that way" stays out of apology)."""
    threshold: float = 0.0
    """Cosine similarity an answer sentence needs to an example (0: patterns only)."""
    overlaps: tuple[str, ...] = ()
    """Items one sentence may earn together with this one (docs/labelling.md: "I'll ring you on
    Friday" is a commitment and a follow-up). Their examples do not compete with this item's in
    the nearest-neighbour decision; every other item's do."""
    name: str = field(default="", repr=False)
    """What a trainee reads on screen ("you said sorry"). Left out of the repr: the learned
    weights are keyed to the rubric's repr (analysis.learned.fingerprint), and wording on screen
    changes nothing they were trained on."""


@dataclass(frozen=True)
class Rubric:
    items: tuple[RubricItem, ...]
    margin: float = 0.05
    """How far below a sentence's nearest example (over every item's examples) an item's own
    nearest example may fall and still earn it. Small: a sentence earns the items its nearest
    neighbours belong to, not every item it is loosely near; not zero, because one sentence can
    be a remedy, a commitment and a follow-up at once (docs/labelling.md)."""
    denials: tuple[str, ...] = ()
    """Patterns that deny a penalty rather than commit it, whatever the penalty ("I won't tell
    you to ...", "I'm not saying ...", "nobody is going to say ..."): they cancel every penalty's
    matches they overlap, as an item's own ``unless`` does, but never past the end of their
    clause (a comma). Kept once here because the same negated frame scopes over any don't."""
    learned: ItemModels | None = field(default=None, repr=False, compare=False)
    """Per-item models trained on the labelled answers for exactly this rubric (analysis.learned).
    When present and the encoder is installed, a sentence the model is confident about earns its
    item (or costs its penalty, at a stricter threshold: a wrong deduction costs more trust than a
    missed point) even where no pattern or example matched. None: patterns and the
    nearest-neighbour matcher only."""

    def get(self, item_id: str) -> RubricItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(i.id for i in self.items)


@dataclass(frozen=True)
class ScoringContext:
    """What the scenario changes about scoring."""

    weights: Mapping[str, float] = field(default_factory=dict)
    """Multipliers on item weights for this scenario (0 turns an item off)."""
    safety: bool = False
    """The customer is violent or intoxicated: security, not reasoning, is the right answer."""
    customer_end_s: float | None = None
    """When the customer stopped talking, on the answer's clock; words before it interrupt."""
    remedies: tuple[str, ...] = ()
    """What would settle this customer's problem (analysis.offer_fit judges offers by them)."""
    not_remedies: tuple[str, ...] = ()
    """Offers that miss this customer's problem, however well phrased."""


def denials_for(item: RubricItem, rubric: Rubric) -> tuple[str, ...]:
    """The rubric's denials where they apply: to penalties only."""
    return rubric.denials if item.penalty else ()


def applies(item: RubricItem, context: ScoringContext) -> bool:
    """Whether the scenario scores this item at all (its weight, its kind of customer, and for
    ``interrupt`` whether the customer's end is known)."""
    if context.weights.get(item.id, 1.0) <= 0:
        return False
    if item.id == "interrupt" and context.customer_end_s is None:
        return False
    return (
        item.applies == "always"
        or (item.applies == "safety" and context.safety)
        or (item.applies == "non_safety" and not context.safety)
    )
