"""At most three concrete tips for the end of a session, each quoting the trainee and citing a guide.

Generic praise is ignored, so tips are ranked by what cost the most: things said that hurt
(penalties, quoted), then how it was said (pace, volume), then the most valuable thing left
unsaid (with an example of how to say it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from analysis.content import Rubric
from analysis.turn import TurnAnalysis

MAX_TIPS = 3


@dataclass(frozen=True)
class Tip:
    id: str
    """The rubric item or delivery verdict the tip is about."""
    text: str
    quote: str | None
    """The trainee's own words that the tip is about, when there are any."""
    source: str
    """Guide file prefix, e.g. "003"."""
    turn: int | None = None
    """0-based turn the quote comes from."""

    def to_dict(self) -> dict:
        return asdict(self)


def make_tips(turns: Sequence[TurnAnalysis], rubric: Rubric) -> tuple[Tip, ...]:
    penalties, delivery, missed, hit = [], [], {}, set()
    for n, turn in enumerate(turns):
        for f in turn.content.penalties:
            if f.hit:
                item = rubric.get(f.id)
                penalties.append((f.points, Tip(
                    f.id, f"You said \u201c{f.evidence[0].quote}\u201d: {item.tip or item.description} "
                          f"(guide {item.source}).", f.evidence[0].quote, item.source, n)))
        for verdict in (turn.delivery.speak_slowly, turn.delivery.lower_voice):
            if verdict is not None and verdict.status == "needs_work":
                delivery.append(Tip(verdict.id, f"{verdict.tip} You: {verdict.detail}.", None,
                                    verdict.source, n))
        for f in turn.content.items:
            if f.hit:
                hit.add(f.id)
            else:
                missed.setdefault(f.id, f)
    tips: list[Tip] = [t for _, t in sorted(penalties, key=lambda p: p[0])]
    seen_delivery = set()
    for tip in delivery:
        if tip.id not in seen_delivery:
            seen_delivery.add(tip.id)
            tips.append(tip)
    gaps = sorted((f for f in missed.values() if f.id not in hit), key=lambda f: -f.max_points)
    for f in gaps:
        item = rubric.get(f.id)
        example = f" For example: \u201c{item.examples[0]}\u201d" if item.examples else ""
        tips.append(Tip(f.id, f"{item.tip or item.description} (guide {item.source}).{example}",
                        None, item.source))
    unique, ids = [], set()
    for tip in tips:
        if tip.id not in ids:
            ids.add(tip.id)
            unique.append(tip)
    return tuple(unique[:MAX_TIPS])
