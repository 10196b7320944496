"""The customer: a small deterministic state machine driven by what and how the trainee answered.

Anger (0 calm to 4 furious) moves with each answer, by at most two levels. What was said moves
it: feeling heard (an apology, empathy, the problem said back) and a way forward (options, a
promise that can be kept, a supervisor) calm; "calm down", blame or arguing inflame and spoil the
rest of the answer. An offer counts only when it fits this customer's problem
(analysis.offer_fit): one that fits no remedy gets the scenario's ``misfit`` retort. Sympathy
alone is not a way forward (guide rules method-options, defuse-empathise: acknowledge, then
solve): an answer without a fitting offer calms by at most one level, and until one has been
made anger stays within one level of where the customer started. How it was said moves it too (``delivery_effect``): a
raised voice or a rushed pace against the trainee's own calm baseline angers, a calm, slow, low
voice soothes (guide rules defuse-slow-down, defuse-lower-voice: emotions are infectious).

The next line follows from the new state, in this order (``_decide``):

- safety scenario: security called -> the customer backs off (escalated); otherwise a threat,
  until they storm off at the last turn;
- the customer had accepted an option: a civil answer closes it (resolved), a provocation
  withdraws the acceptance;
- the trainee hands over to a supervisor without offering anything else -> escalated;
- a fitting offer, anger at most ACCEPT_AT, and heard often enough -> they accept; the answer
  after that closes the conversation, so every resolved conversation has at least two turns;
- furious twice in a row -> they walk out;
- offers that fit nothing of theirs -> they say so (``misfit``);
- stonewalled (no way forward twice running, or told "it's policy"/"nothing I can do") -> they
  ask for a manager, once;
- angrier, or not yet heard enough -> the complaint again; otherwise they say more.

At the last turn an open conversation ends: resolved if the customer is calm and was offered
something that fits, walked out otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from analysis.delivery import DeliveryMeasures
from analysis.turn import TurnAnalysis
from scenarios.model import MAX_ANGER, Scenario

ENDINGS = ("resolved", "escalated", "walked_out")
"""resolved: the customer accepts; escalated: handed to a supervisor or security;
walked_out: the customer leaves angry."""

HEARD = ("listen_acknowledge", "restate_problem", "apology", "empathy", "open_question")
"""Items that tell the customer they were listened to (method-listen, defuse-listen,
interview-open-questions...)."""
WAY_FORWARD = ("options", "keepable_promise", "lets_together", "supervisor")
"""Items that give the customer something to hold on to (method-options, defuse-lets...)."""
CLOSING = ("positive_close", "follow_up")
"""Items that end a settled conversation well (defuse-positive-end, method-follow-up)."""
STONEWALLING = ("hide_behind_policy", "dismiss")
"""Penalties that make a customer ask for someone who can actually decide."""
OFFERS = ("options", "keepable_promise")
"""The trainee's own ways forward: judged against the scenario's remedies, and the only ones
the customer accepts (a supervisor hands them over; a "let's" promises nothing yet)."""

IN_WORDS = {
    "listen_acknowledge": "you acknowledged what they said",
    "restate_problem": "you said their problem back",
    "apology": "you apologised",
    "empathy": "you named how they feel",
    "open_question": "you asked what happened",
    "options": "you offered choices that fit their problem",
    "keepable_promise": "you promised a next step you can keep",
    "lets_together": "you took the problem on with them",
    "supervisor": "you offered a supervisor",
    "follow_up": "you arranged to follow up",
    "positive_close": "you thanked them",
    "sorry_you_feel": '"sorry you feel that way"',
    "calm_down": "being told to calm down",
    "blame_customer": "being blamed",
    "argue": "being argued with",
    "overpromise": "a promise you can't be sure to keep",
    "dismiss": "having the problem brushed aside",
    "hide_behind_policy": "being told it's policy",
    "interrupt": "being interrupted",
    "take_personally": "you defending yourself",
    "aggressive": "an aggressive tone",
    "safety_discount": "being offered money",
    "reason_at_length": "being reasoned with at length",
}
"""What each rubric item meant to the customer, for the reasons a trainee reads (never an id)."""


def in_words(item_ids: tuple[str, ...]) -> str:
    return ", ".join(IN_WORDS.get(i, i.replace("_", " ")) for i in item_ids)


ACCEPT_AT = 2
"""The customer takes an option only once their anger is at or below this."""
MAX_STEP = 2
"""Anger moves at most this many levels per answer: one answer rarely turns fury into calm."""
STONEWALL_TURNS = 2
"""Answers in a row without a way forward after which the customer asks for a manager."""


@dataclass(frozen=True)
class CustomerState:
    anger: int
    turn: int = 0
    """Answers heard so far."""
    ending: str | None = None
    said: tuple[str, ...] = ()
    """Kinds of line already said, in order (for picking the next variant)."""
    heard: int = 0
    """Answers in which the customer felt heard."""
    offered: bool = False
    """A way forward has been offered at some point."""
    accepted: bool = False
    """The customer took an option; the next answer closes the conversation."""
    stonewalled: int = 0
    """Answers in a row without a way forward."""


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


@dataclass(frozen=True)
class _Heard:
    """What the customer took from one answer's content."""

    heard: tuple[str, ...]
    way: tuple[str, ...]
    closing: tuple[str, ...]
    provoked: tuple[str, ...]
    fitting: tuple[str, ...]
    """Offers of the trainee's own (OFFERS) that fit this customer's problem."""
    misfit: str | None
    """An offer that fits nothing of theirs, when no offer did: what the customer retorts to."""
    security: bool
    supervisor_only: bool
    """A supervisor offered with no option of the trainee's own: a hand-over."""


def start(scenario: Scenario) -> tuple[CustomerState, str]:
    """The customer's state before the first answer, and their opening line."""
    return CustomerState(scenario.persona.anger, said=("opening",)), scenario.say("opening")


def _hits(turn: TurnAnalysis, ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i for i in ids if (f := turn.content.finding(i)) is not None and f.hit)


def _listen(turn: TurnAnalysis) -> _Heard:
    way = _hits(turn, WAY_FORWARD)
    fitting = _hits(turn, OFFERS)
    misfits = turn.misfits
    return _Heard(
        heard=_hits(turn, HEARD),
        way=way,
        closing=_hits(turn, CLOSING),
        provoked=tuple(f.id for f in turn.content.penalties if f.hit),
        fitting=fitting,
        misfit=misfits[0].quote if misfits and not fitting else None,
        security=bool(_hits(turn, ("security",))),
        supervisor_only="supervisor" in way and "options" not in way,
    )


def delivery_effect(delivery: DeliveryMeasures) -> tuple[int, list[str]]:
    """How the customer hears the trainee's voice: +1 for a raised voice, +1 for a rushed pace,
    +1 more for rising with the customer's own raised voice (mirroring), -1 when both are judged calm against the trainee's baseline. Without a baseline the voice
    verdict is "unknown", so there is no reward, only the pace penalty on absolute bands."""
    delta, reasons = 0, []
    voice, pace = delivery.lower_voice, delivery.speak_slowly
    if voice is not None and voice.status == "needs_work":
        delta += 1
        reasons.append(f"reacted to your raised voice ({voice.detail})")
    if pace is not None and pace.status == "needs_work":
        delta += 1
        reasons.append(f"reacted to your rushed pace ({pace.detail})")
    if delivery.mirroring is not None and delivery.mirroring.status == "needs_work":
        delta += 1
        reasons.append(f"felt you were shouting back ({delivery.mirroring.detail})")
    if delta == 0 and voice is not None and pace is not None and voice.status == pace.status == "pass":
        delta -= 1
        reasons.append("was soothed by your calm, unhurried voice")
    return delta, reasons


def _content_effect(scenario: Scenario, state: CustomerState, h: _Heard) -> tuple[int, list[str]]:
    if h.provoked:
        return min(2, len(h.provoked)), [f"was provoked ({in_words(h.provoked)}), which spoiled the rest"]
    if scenario.safety:
        if h.security:
            return 0, ["saw you stop arguing and call for help"]
        return 1, ["is past reasoning: talking on only feeds it (call security)"]
    delta, reasons = 0, []
    if h.heard:
        delta -= 1
        reasons.append(f"felt heard ({in_words(h.heard)})")
    if h.way and (h.heard or state.heard or state.anger <= ACCEPT_AT):
        delta -= 1
        reasons.append(f"got a way forward ({in_words(h.way)})")
    elif h.way:
        reasons.append("wanted to be heard before hearing solutions")
    if h.misfit and not state.accepted:  # once settled, "I'll check in tomorrow" is a follow-up, not an offer
        reasons.append(f'heard an offer that does nothing for their problem ("{h.misfit}")')
    if state.accepted and h.closing:
        delta -= 1
        reasons.append(f"liked how you closed ({in_words(h.closing)})")
    if not (h.heard or h.way or state.accepted):
        delta += 1
        reasons.append("did not feel heard")
    return delta, reasons


def _anger_change(
    scenario: Scenario, state: CustomerState, h: _Heard, delivery: DeliveryMeasures
) -> tuple[int, list[str]]:
    """How many levels anger moves for this answer (-MAX_STEP..MAX_STEP), and why."""
    delta, reasons = _content_effect(scenario, state, h)
    voice_delta, voice_reasons = delivery_effect(delivery)
    if voice_delta < 0 and delta > 0:
        voice_delta, voice_reasons = 0, []  # a calm voice does not make up for ignoring or provoking
    waiting = not (h.fitting or state.accepted)
    low = -1 if waiting else -MAX_STEP
    if delta + voice_delta < low and waiting:  # past -MAX_STEP it is only the one-answer limit
        reasons.append("still waiting to hear what you will do about it")
    return max(low, min(MAX_STEP, delta + voice_delta)), reasons + voice_reasons


def _decide(
    scenario: Scenario, state: CustomerState, h: _Heard, anger: int, delta: int, heard: int, stonewalled: int
) -> tuple[str, str | None]:
    """The kind of the next line and the ending, if this answer ends the conversation."""
    furious_again = state.anger == anger == MAX_ANGER and state.turn >= 1
    if scenario.safety:
        if h.security:
            return "handover", "escalated"
        return ("walkout", "walked_out") if furious_again else ("threat", None)
    if state.accepted:
        return ("repeat", None) if delta > 0 or h.provoked else ("resolved", "resolved")
    if h.supervisor_only and not h.provoked:
        return "handover", "escalated"
    if h.fitting and not h.provoked and anger <= ACCEPT_AT and heard >= scenario.persona.needs_heard:
        return "accept", None
    if furious_again:
        return "walkout", "walked_out"
    if h.misfit and not h.provoked:
        return "misfit", None
    if (stonewalled >= STONEWALL_TURNS or set(h.provoked) & set(STONEWALLING)) and "manager" not in state.said:
        return "manager", None
    if delta > 0 or heard < scenario.persona.needs_heard:
        return "repeat", None
    return "details", None


def _last_word(kind: str, anger: int, offered: bool) -> tuple[str, str]:
    """How an open conversation ends when the customer's patience (max_turns) runs out."""
    if kind == "accept":
        return "accept", "resolved"
    if anger <= 1 and offered:
        return "resolved", "resolved"
    return "walkout", "walked_out"


def react(scenario: Scenario, state: CustomerState, turn: TurnAnalysis) -> tuple[CustomerState, Reaction]:
    """The customer's response to one answer: the new state and what they say next."""
    if state.ending is not None:
        raise ValueError("the conversation has already ended")
    h = _listen(turn)
    delta, reasons = _anger_change(scenario, state, h, turn.delivery)
    anger = max(0, min(MAX_ANGER, state.anger + delta))
    turn_no = state.turn + 1
    good_faith = not h.provoked and not scenario.safety
    heard = state.heard + bool(h.heard and good_faith)
    offered = state.offered or bool(h.fitting and good_faith)
    if not offered and anger < scenario.persona.anger - 1 and anger < state.anger:
        anger = min(state.anger, scenario.persona.anger - 1)
        reasons.append("won't settle for sympathy alone: nothing has been offered that fixes it")
    stonewalled = 0 if h.way and good_faith else state.stonewalled + 1
    kind, ending = _decide(scenario, state, h, anger, delta, heard, stonewalled)
    if ending is None and turn_no >= scenario.max_turns:
        kind, ending = _last_word(kind, anger, offered)
    line = scenario.say(kind, state.said.count(kind))
    new_state = CustomerState(
        anger=anger,
        turn=turn_no,
        ending=ending,
        said=(*state.said, kind),
        heard=heard,
        offered=offered,
        accepted=kind == "accept",
        stonewalled=stonewalled,
    )
    return new_state, Reaction(state.anger, anger, kind, line, ending, tuple(reasons))
