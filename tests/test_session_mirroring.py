"""The session tells the delivery analysis how raised the customer's line was, so a trainee who
mirrors an angry customer can be told so (guide rule defuse-dont-mirror), and one who stays calm is not."""

from audio.capture import record_answer
from audio.source import chunks_from_clip
from kiosk.commands import DEMO_TRAINEE
from kiosk.session import PracticeSession
from scenarios.library import load_library


def test_an_angry_customers_line_reaches_the_mirroring_verdict(engines, synth):
    session = PracticeSession(load_library().get("damaged-delivery"), engines)
    assert session.current_line.anger >= 2
    answer = synth.synthesize(
        "I'm so sorry the table arrived damaged. Let me arrange a replacement or a full refund, whichever you prefer.",
        DEMO_TRAINEE,
    )
    record = session.answer(record_answer(chunks_from_clip(answer)))
    mirroring = record.analysis.delivery.mirroring
    assert mirroring is not None
    assert "nothing to mirror" not in mirroring.detail  # the customer's raised voice was measured
    assert mirroring.status != "needs_work"  # a calm answer does not mirror it


def test_an_undone_turn_is_judged_again_against_the_same_line(engines, synth):
    """The web kiosk undoes a turn the store refused; the retry must answer the very line the
    first attempt answered, with that line's raised voice, not the reaction that followed it."""
    session = PracticeSession(load_library().get("damaged-delivery"), engines)
    opening, state = session.current_line, session.state
    answer = record_answer(
        chunks_from_clip(
            synth.synthesize("Calm down, it is not my fault the van driver dropped your table.", DEMO_TRAINEE)
        )
    )
    first = session.answer(answer)
    assert session.current_line != opening  # the customer has reacted
    assert session.undo_last_turn() is first
    assert (session.state, session.current_line, session.turns) == (state, opening, [])
    retry = session.answer(answer)
    assert retry.index == first.index == 0 and retry.customer == opening
    assert retry.analysis.delivery.mirroring == first.analysis.delivery.mirroring
    assert retry.reaction == first.reaction
