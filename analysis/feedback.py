"""At most three concrete tips for the end of a session, each quoting the trainee and citing a rule.

Generic praise is ignored, so tips are ranked by what cost the most: things said that hurt
(penalties, quoted), then how it was said (pace, volume), then the most valuable goal this
conversation called for and never met (with the scenario's own model answer as the example).
Tips come from the conversation's scorecard, so a tip never asks for what an earlier answer
already did, and never for what this scenario does not call for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from analysis.content import Rubric
from analysis.scorecard import Goal, Scorecard
from analysis.turn import TurnAnalysis

MAX_TIPS = 3


@dataclass(frozen=True)
class Tip:
    id: str
    """The penalty, delivery verdict or conversation goal the tip is about."""
    text: str
    quote: str | None
    """The trainee's own words that the tip is about, when there are any."""
    source: str
    """The coaching-guide rule behind it."""
    turn: int | None = None
    """0-based answer the quote or verdict comes from."""
    example: str | None = None
    """How this scenario's model answer says it, for a goal that was missed."""

    def to_dict(self) -> dict:
        return asdict(self)


def make_tips(
    turns: Sequence[TurnAnalysis],
    card: Scorecard,
    rubric: Rubric,
    goals: Sequence[Goal],
    examples: Mapping[str, str] = {},
) -> tuple[Tip, ...]:
    """The session's tips. ``examples`` maps a goal id to the words of the scenario's model
    answer that meet it (the example is always about the customer being practised)."""
    tips: list[Tip] = []
    said = (p for p in card.penalties if p.id in rubric.ids)  # delivery costs get their tip below
    for hit in sorted(said, key=lambda p: (-p.points, p.turn)):
        item = rubric.get(hit.id)
        tips.append(
            Tip(
                hit.id,
                f"You said \u201c{hit.quote}\u201d: {item.tip or item.description}.",
                hit.quote,
                item.source,
                hit.turn,
            )
        )
    for n, turn in enumerate(turns):
        for verdict in (turn.delivery.speak_slowly, turn.delivery.lower_voice):
            if verdict is not None and verdict.status == "needs_work":
                tips.append(Tip(verdict.id, f"{verdict.tip} You: {verdict.detail}.", None, verdict.source, n))
    by_id = {g.id: g for g in goals}
    for result in sorted((r for r in card.goals if r.called_for and not r.met), key=lambda r: -r.max_points):
        goal = by_id[result.id]
        example = examples.get(goal.id)
        text = f"{goal.tip}." + (f" For example: \u201c{example}\u201d" if example else "")
        tips.append(Tip(goal.id, text, None, goal.source, None, example))
    unique: dict[str, Tip] = {}
    for tip in tips:
        unique.setdefault(tip.id, tip)
    return tuple(unique.values())[:MAX_TIPS]
