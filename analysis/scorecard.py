"""The conversation's scorecard: what the whole practice earned, which answer earned it, its score.

A conversation is judged as a whole, not as the mean of its answers, because a good conversation
spreads its work over several answers: the first shows the customer they were heard, a later
one offers a way forward, the last closes. So an item is earned once, by the first answer that
says it, and credited to that answer and its words; a penalty counts in every answer that
commits it, because each one lands on the customer again.

The score comes from the *goals* of a conversation with an upset customer (show you understood,
say sorry, offer a way forward, close well; with a violent or drunk customer, call security),
each met by any of its rubric items (scenarios/scorecard.toml). How it was said counts too: an
answer judged rushed, raised or shouting back costs points, as it costs the customer's temper. A goal counts only where this
scenario calls for it: its own model answer meets it, or it is the close of a conversation that
reached one. An item that fits only some scenarios (a quieter spot, a supervisor) therefore
never makes a good conversation look poor, and the same answers always give the same score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from analysis.content import ContentResult, Finding
from analysis.turn import TurnAnalysis

STAGES = ("opening", "solving", "closing", "safety")
"""The moments of a conversation: the first answer; once the problem is on the table; after the
customer accepted a way forward; and, with a violent or drunk customer, every answer."""
_ORDER = {"opening": 0, "solving": 1, "closing": 2, "safety": 0}


@dataclass(frozen=True)
class Goal:
    id: str
    name: str
    """What the trainee did, in their words ("you said sorry")."""
    items: tuple[str, ...]
    """Rubric items any one of which meets the goal."""
    weight: float
    stage: str
    """The moment that calls for it (one of STAGES)."""
    source: str
    """The coaching-guide rule behind it."""
    tip: str
    """What to do next time when it was called for and missed."""


@dataclass(frozen=True)
class ScorecardRules:
    """scenarios/scorecard.toml: the goals, and what each delivery verdict costs."""

    goals: tuple[Goal, ...]
    delivery_points: Mapping[str, float]


@dataclass(frozen=True)
class ItemCredit:
    id: str
    earned: bool
    turn: int | None
    """0-based answer that first earned it (None when never earned)."""
    quote: str | None
    """The trainee's words that earned it."""


@dataclass(frozen=True)
class PenaltyHit:
    id: str
    """A rubric penalty, or a delivery verdict (speak_slowly, lower_voice, mirroring)."""
    turn: int
    quote: str
    """The trainee's words that drew it; for a delivery verdict, what was measured."""
    points: float
    """Points deducted."""


@dataclass(frozen=True)
class GoalResult:
    id: str
    name: str
    called_for: bool
    """This scenario and this conversation called for it; only these count in the score."""
    met: bool
    turn: int | None
    item: str | None
    """The rubric item that met it first."""
    quote: str | None
    points: float
    max_points: float


@dataclass(frozen=True)
class TurnCard:
    """One answer's part in the conversation: what it added and what it broke, no score of its own."""

    turn: int
    stage: str
    added: tuple[ItemCredit, ...]
    """Items this answer earned first."""
    broke: tuple[PenaltyHit, ...]
    still_missing: tuple[str, ...]
    """Goals this moment called for that are still unmet after this answer, by id."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Scorecard:
    score: int
    """0-100: the called-for goals' share, less the penalties."""
    goals: tuple[GoalResult, ...]
    items: tuple[ItemCredit, ...]
    penalties: tuple[PenaltyHit, ...]
    turns: tuple[TurnCard, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    def goal(self, goal_id: str) -> GoalResult:
        for g in self.goals:
            if g.id == goal_id:
                return g
        raise KeyError(goal_id)


def stage_of(turn: int, accepted_before: bool, safety: bool) -> str:
    """The moment an answer is given in: safety throughout with a violent or drunk customer,
    otherwise the first answer opens, an answer after the customer accepted closes, and every
    other answer works on the problem."""
    if safety:
        return "safety"
    if turn == 0:
        return "opening"
    return "closing" if accepted_before else "solving"


def _first_quote(finding: Finding) -> str:
    return finding.evidence[0].quote if finding.evidence else ""


def called_for_goals(goals: Sequence[Goal], model_answer: ContentResult, safety: bool) -> frozenset[str]:
    """The goals this scenario calls for: those its model answer meets (the model answer is the
    scenario's own definition of a good answer), plus the close of a non-safety conversation,
    which a first answer never contains."""
    earned = {f.id for f in model_answer.items if f.hit}
    wanted = {g.id for g in goals if earned & set(g.items)}
    if not safety:
        wanted |= {g.id for g in goals if g.stage == "closing"}
    return frozenset(g.id for g in goals if g.id in wanted and (g.stage == "safety") == safety)


def _delivery_hits(n: int, answer: TurnAnalysis, points: Mapping[str, float]) -> list[PenaltyHit]:
    d = answer.delivery
    return [
        PenaltyHit(v.id, n, v.detail, points[v.id])
        for v in (d.speak_slowly, d.lower_voice, d.mirroring)
        if v is not None and v.status == "needs_work" and v.id in points
    ]


def build_scorecard(
    answers: Sequence[TurnAnalysis],
    stages: Sequence[str],
    goals: Sequence[Goal],
    called_for: frozenset[str],
    focus: frozenset[str] = frozenset(),
    delivery_points: Mapping[str, float] = {},
) -> Scorecard:
    """The scorecard of a conversation so far.

    ``answers`` are its analysed answers in order and ``stages`` the moment each was given in
    (``stage_of``); ``called_for`` is ``called_for_goals`` of the scenario; a goal holding one
    of the scenario's ``focus`` items weighs double; ``delivery_points`` is what each delivery
    verdict judged "needs work" costs. A way forward is owed from the first answer on (a
    conversation stopped after one answer that offered nothing is not complete), but a closing
    goal counts only once the conversation reached a closing answer: until then the moment for
    it has not come. An answer's card lists as missing only what its own moment calls for."""
    first: dict[str, ItemCredit] = {}
    penalties: list[PenaltyHit] = []
    cards: list[TurnCard] = []
    order: list[str] = []
    reached = max([_ORDER["solving"], *(_ORDER[s] for s in stages)])
    counted = {g.id for g in goals if g.id in called_for and _ORDER[g.stage] <= reached}
    for n, (answer, stage) in enumerate(zip(answers, stages)):
        content, added = answer.content, []
        for f in content.items:
            if f.id not in order:
                order.append(f.id)
            if f.hit and (f.id not in first or not first[f.id].earned):
                first[f.id] = ItemCredit(f.id, True, n, _first_quote(f))
                added.append(first[f.id])
            first.setdefault(f.id, ItemCredit(f.id, False, None, None))
        broke = (
            *(PenaltyHit(f.id, n, _first_quote(f), round(-f.points, 1)) for f in content.penalties if f.hit),
            *_delivery_hits(n, answer, delivery_points),
        )
        penalties.extend(broke)
        met = {g.id for g in goals if any(first.get(i, _NEVER).earned for i in g.items)}
        missing = tuple(
            g.id for g in goals if g.id in called_for and g.id not in met and _ORDER[g.stage] <= _ORDER[stage]
        )
        cards.append(TurnCard(n, stage, tuple(added), broke, missing))
    results = []
    for g in goals:
        credits = [first[i] for i in g.items if i in first and first[i].earned]
        best = min(credits, key=lambda c: c.turn, default=None)
        worth = g.weight * (2.0 if focus & set(g.items) else 1.0) if g.id in counted else 0.0
        results.append(
            GoalResult(
                g.id,
                g.name,
                g.id in counted,
                best is not None,
                None if best is None else best.turn,
                None if best is None else best.id,
                None if best is None else best.quote,
                worth if best is not None else 0.0,
                worth,
            )
        )
    total = sum(r.max_points for r in results)
    share = 100.0 * sum(r.points for r in results) / total if total else 0.0
    deducted = sum(p.points for p in penalties)
    score = int(max(0, min(100, round(share - deducted)))) if answers else 0
    items = tuple(first[i] for i in order)
    return Scorecard(score, tuple(results), items, tuple(penalties), tuple(cards))


_NEVER = ItemCredit("", False, None, None)
