"""What a trainee reads: ids, verdicts and measures turned into words (kiosk.plain), and the one
chart of a whole conversation (kiosk.report.conversation_chart)."""

from kiosk import plain
from kiosk.report import conversation_chart
from scenarios.rubric import load_rubric


def test_every_rubric_item_has_a_trainee_facing_name():
    for item in load_rubric().items:
        assert item.name and "_" not in item.name and item.name == item.name.strip(), item.id
    assert plain.item_name("apology") == "you said sorry"
    assert plain.item_name("options") == "you offered a choice"
    assert plain.item_name("no_such_item") == "no such item"  # an old id reads as words


def test_pace_in_words_first_then_numbers_with_units_and_the_band_used():
    own = plain.pace({"wpm": 152.0, "rate_ratio": 1.01, "speak_slowly": {"status": "pass"}})
    assert own.words == "about your calm pace" and own.numbers == "152 words a minute; your calm pace 150"
    assert (
        plain.pace_band_used({"wpm": 152.0, "rate_ratio": 1.01})
        == "their own calm pace of 150: up to 173 words a minute"
    )
    quick = plain.pace({"wpm": 172.0, "speak_slowly": {"status": "needs_work"}})
    assert quick.words == "rushed" and "calm is 120 to 150" in quick.numbers and quick.status == "needs_work"
    assert plain.pace_band_used({"wpm": 172.0}).startswith("the usual band: up to 160 words a minute")
    assert plain.pace({"wpm": None}).words.startswith("not measured")


def test_voice_in_words_against_the_calm_voice():
    v = plain.voice({"f0_delta_st": 1.2, "level_delta_db": 0.5, "lower_voice": {"status": "pass"}})
    assert v.words == "a little higher than your calm voice, about as loud"
    assert v.numbers == "+1.2 semitones, +0.5 dB"
    raised = plain.voice(
        {"f0_delta_st": 5.0, "level_delta_db": 6.0, "balance_delta_db": 5.0, "lower_voice": {"status": "needs_work"}}
    )
    assert raised.words == "higher than your calm voice, louder than calm, and straining"
    none = plain.voice({"lower_voice": {"status": "unknown", "detail": "no calm baseline yet"}})
    assert none.words.startswith("not judged") and none.numbers == ""


def test_reasons_name_items_and_drop_raw_measures():
    assert (
        plain.reason("felt heard (listen_acknowledge, apology)")
        == "felt heard (you showed you heard them, you said sorry)"
    )
    assert (
        plain.reason("reacted to your rushed pace (172 words/min (calm is 120-150))") == "reacted to your rushed pace"
    )
    assert (
        plain.reason("was provoked (hide_behind_policy), which spoiled the rest")
        == "was provoked (you hid behind the rules), which spoiled the rest"
    )
    assert plain.reason("felt heard (you apologised)") == "felt heard (you apologised)"  # words stay


def test_markdown_is_rendered_and_everything_else_escaped():
    assert str(plain.markdown("say what you *can* do")) == "say what you <em>can</em> do"
    assert str(plain.markdown("**never** <b>x</b>")) == "<strong>never</strong> &lt;b&gt;x&lt;/b&gt;"
    assert plain.unmarked("what you *can* do") == "what you can do"
    assert plain.tip_text("Slow down (guide 003). You: 172 words/min.") == "Slow down."


def test_endings_are_never_empty():
    assert plain.ending_words("walked_out") == "the customer walked out"
    assert plain.ending_words(None) == "stopped before the end"
    assert plain.ending_words(None, round_id=3) == "one answer (workshop round)"
    assert plain.status_words("needs_work") == "needs work"


def test_the_conversation_chart_shows_anger_pace_and_voice_on_one_picture():
    turn = {
        "delivery": {
            "wpm": 172.0,
            "speak_slowly": {"status": "needs_work"},
            "f0_delta_st": 3.0,
            "level_delta_db": 1.0,
            "lower_voice": {"status": "needs_work"},
        }
    }
    calm = {
        "delivery": {
            "wpm": 135.0,
            "speak_slowly": {"status": "pass"},
            "f0_delta_st": 0.2,
            "level_delta_db": -1.0,
            "lower_voice": {"status": "pass"},
        }
    }
    svg = conversation_chart({"anger_curve": [3, 4, 2], "turns": [turn, calm]})
    assert "0 calm to 4 furious: 3, then 4, then 2." in svg
    assert "172, 135 (calm enough: 100 to 160)" in svg and "Your voice: raised, calm." in svg
    assert svg.count('class="marker anger-marker"') == 3
    assert 'class="marker status-needs_work"' in svg and 'class="marker status-pass"' in svg
    unjudged = {"delivery": {"wpm": 135.0, "lower_voice": {"status": "unknown"}}}
    assert "not judged: no calm voice recorded" in conversation_chart({"anger_curve": [3, 2], "turns": [unjudged]})
    own = conversation_chart({"anger_curve": [3, 2], "turns": [calm], "baseline": {"wpm": 140.0}})
    assert "calm for you: 100 to 161" in own
