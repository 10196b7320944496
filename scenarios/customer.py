"""The customer: a small deterministic state machine driven by what and how the trainee answered.

Anger (0 calm to 4 furious) moves with each answer. Content moves it (an apology, empathy and a
real option calm; "calm down", blame or arguing inflame) and so does delivery (a trainee who
speeds up or raises their voice makes it worse). The next line follows from the new state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from analysis.turn import TurnAnalysis
from scenarios.model import MAX_ANGER, Scenario

ENDINGS = ("resolved", "escalated", "walked_out")
"""resolved: the customer accepts; escalated: handed to a supervisor or security;
walked_out: the customer leaves angry."""

CALMING = ("apology", "empathy", "listen_acknowledge", "restate_problem")
SOLVING = ("options", "keepable_promise", "supervisor", "lets_together")


@dataclass(frozen=True)
class CustomerState:
    anger: int
    turn: int = 0
    """Answers heard so far."""
    ending: str | None = None
    said: tuple[str, ...] = ()
    """Kinds of line already said, in order (for picking the next variant)."""


@dataclass(frozen=True)
class Reaction:
    anger_before: int
    anger_after: int
    kind: str
    """The kind of line the customer says next (see scenarios.model.LINE_KINDS)."""
    line: str
    ending: str | None
    reasons: tuple[str, ...]
    """Why anger moved, in words the trainee can read."""

    def to_dict(self) -> dict:
        return asdict(self)


def start(scenario: Scenario) -> tuple[CustomerState, str]:
    """The customer's state before the first answer, and their opening line."""
    return CustomerState(scenario.persona.anger, said=("opening",)), scenario.line("opening")


def _hits(turn: TurnAnalysis, ids: tuple[str, ...]) -> list[str]:
    return [i for i in ids if (f := turn.content.finding(i)) is not None and f.hit]


def _anger_change(scenario: Scenario, turn: TurnAnalysis) -> tuple[int, list[str]]:
    delta, reasons = 0, []
    calming, solving = _hits(turn, CALMING), _hits(turn, SOLVING)
    if calming:
        delta -= 1
        reasons.append(f"felt heard ({', '.join(calming)})")
    if solving and not scenario.safety:
        delta -= 1
        reasons.append(f"got a way forward ({', '.join(solving)})")
    penalties = [f.id for f in turn.content.penalties if f.hit]
    if penalties:
        delta += min(2, len(penalties))
        reasons.append(f"was provoked ({', '.join(penalties)})")
    for verdict, what in ((turn.delivery.lower_voice, "raised voice"),
                          (turn.delivery.speak_slowly, "rushed pace")):
        if verdict is not None and verdict.status == "needs_work":
            delta += 1
            reasons.append(f"reacted to your {what}")
    if not turn.transcript.words:
        delta += 1
        reasons.append("got no answer")
    elif not calming and not solving:
        delta += 1
        reasons.append("did not feel heard")
    return delta, reasons


def react(scenario: Scenario, state: CustomerState, turn: TurnAnalysis) -> tuple[CustomerState, Reaction]:
    """The customer's response to one answer."""
    if state.ending is not None:
        raise ValueError("the conversation has already ended")
    delta, reasons = _anger_change(scenario, turn)
    anger = max(0, min(MAX_ANGER, state.anger + delta))
    turn_no = state.turn + 1
    ending, kind = None, None
    if scenario.safety:
        if _hits(turn, ("security",)):
            ending, kind = "escalated", "resolved"
        elif turn_no >= scenario.max_turns or anger >= MAX_ANGER:
            ending, kind = "walked_out", "threat"
        else:
            kind = "threat"
    elif _hits(turn, ("supervisor",)) and anger <= 2:
        ending, kind = "escalated", "accept"
    elif anger <= 1 and _hits(turn, SOLVING):
        ending, kind = "resolved", "accept"
    elif anger >= MAX_ANGER and state.anger >= MAX_ANGER:
        ending, kind = "walked_out", "walkout"
    elif turn_no >= scenario.max_turns:
        ending, kind = ("resolved", "resolved") if anger <= 1 else ("walked_out", "walkout")
    elif delta > 0:
        kind = "manager" if "manager" in scenario.lines and anger >= 3 and "manager" not in state.said else "repeat"
    else:
        kind = "details"
    index = state.said.count(kind)
    line = scenario.line(kind, index) or scenario.line("repeat", index)
    new_state = replace(state, anger=anger, turn=turn_no, ending=ending, said=(*state.said, kind))
    return new_state, Reaction(state.anger, anger, kind, line, ending, tuple(reasons))
