"""What a trainee reads: rubric items, verdicts, delivery and endings in plain words.

The session JSON speaks in ids and raw measures (``apology``, ``needs_work``, ``+1.3`` semitones)
because machines read it; every screen a trainee sees renders it through these functions, words
first and numbers second with their units, so no id, bare number or guide file number reaches the
counter. Trainer pages and the CSV use the same words (``ending_words``, ``status_words``) next to
their numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from analysis.delivery import CALM_WPM, EFFORT_DB, FASTER_RATIO, HIGHER_ST, LOUDER_DB, pace_band
from scenarios.rubric import item_names

ENDINGS = {
    "resolved": "resolved",
    "escalated": "handed to a supervisor or security",
    "walked_out": "the customer walked out",
    "incomplete": "interrupted (the kiosk stopped)",
}
STOPPED = "stopped before the end"
ROUND_ENDING = "one answer (workshop round)"
STATUS = {"pass": "calm", "needs_work": "needs work", "unknown": "not judged"}
VERDICT_NAMES = {"speak_slowly": "Pace", "lower_voice": "Voice", "mirroring": "Matching the customer's voice"}
_GUIDE_REF = re.compile(r"\s*\(guide \d{3}\)")
_PAREN = re.compile(r"\s*\(([^()]*)\)")
_MEASURE = re.compile(r"\d\s*(words|dB|semitones|%|x\b|Hz|s\b)|calm is \d")


@dataclass(frozen=True)
class Plain:
    """One measure said for a trainee: the words, then the numbers with their units."""

    words: str
    numbers: str
    status: str
    """The verdict behind it: pass, needs_work or unknown (pages colour by it)."""

    def __str__(self) -> str:
        return f"{self.words} ({self.numbers})" if self.numbers else self.words


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    return item_names()


DELIVERY_NAMES = {
    "speak_slowly": "you rushed",
    "lower_voice": "you raised your voice",
    "mirroring": "you matched their raised voice",
}
"""The delivery verdicts the scorecard counts as penalties, named like rubric items."""


def item_name(item_id: str) -> str:
    """ "apology" -> "you said sorry"; an id the rubric no longer has reads as words, not code."""
    return _names().get(item_id) or DELIVERY_NAMES.get(item_id) or str(item_id).replace("_", " ")


def status_words(status: str | None) -> str:
    return STATUS.get(status or "", "not judged")


def ending_words(ending: str | None, round_id: int | None = None) -> str:
    """How a session ended; a workshop round is one answer by design, not a stopped session."""
    if ending in ENDINGS:
        return ENDINGS[ending]
    return ROUND_ENDING if round_id is not None else STOPPED


def _signed(value: float, unit: str) -> str:
    return f"{value:+.1f} {unit}".replace("-", "−")


def pace(delivery: dict) -> Plain:
    """The pace against the trainee's calm pace when there is one, else against the usual calm
    range; "rushed" exactly when the verdict says so (the band of analysis.delivery.pace_band)."""
    d = delivery or {}
    wpm, ratio = d.get("wpm"), d.get("rate_ratio")
    status = (d.get("speak_slowly") or {}).get("status", "unknown")
    if not isinstance(wpm, (int, float)):
        return Plain("not measured (too few words)", "", "unknown")
    if isinstance(ratio, (int, float)) and ratio > 0:
        calm = wpm / ratio
        if wpm > pace_band(calm).high_wpm:
            words = "faster than your calm pace" if ratio > FASTER_RATIO else "rushed"
        elif ratio > 1.05:
            words = "a little faster than your calm pace"
        elif ratio < 0.85:
            words = "slower than your calm pace"
        else:
            words = "about your calm pace"
        numbers = f"{wpm:.0f} words a minute; your calm pace {calm:.0f}"
    else:
        band = pace_band(None)
        if wpm > band.high_wpm:
            words = "rushed"
        elif wpm > CALM_WPM[1]:
            words = "a little quick, still fine"
        elif wpm >= CALM_WPM[0]:
            words = "a calm pace"
        elif wpm >= band.low_wpm:
            words = "a little slow, still fine"
        else:
            words = "slow enough to sound hesitant"
        numbers = f"{wpm:.0f} words a minute; calm is {CALM_WPM[0]:.0f} to {CALM_WPM[1]:.0f}"
    if "sped_up" in (d.get("trend") or ()):
        words += ", and you sped up toward the end"
    return Plain(words, numbers, status)


def pace_band_used(delivery: dict) -> str:
    """Which band judged the pace: the trainee's own calm pace, or the usual one (no baseline)."""
    d = delivery or {}
    ratio, wpm = d.get("rate_ratio"), d.get("wpm")
    if isinstance(ratio, (int, float)) and ratio > 0 and isinstance(wpm, (int, float)):
        calm = wpm / ratio
        return f"their own calm pace of {calm:.0f}: up to {pace_band(calm).high_wpm:.0f} words a minute"
    return f"the usual band: up to {pace_band(None).high_wpm:.0f} words a minute (no calm voice recorded)"


def _step(delta: float | None, limit: float, up: str, down: str, same: str) -> str | None:
    if not isinstance(delta, (int, float)):
        return None
    if delta > limit:
        return up
    if delta > limit / 2:
        return f"a little {up}"
    if delta < -limit / 2:
        return f"a little {down}"
    return same


def voice(delivery: dict) -> Plain:
    """Pitch, loudness and strain against the trainee's calm voice, in words; numbers after."""
    d = delivery or {}
    verdict = d.get("lower_voice") or {}
    status = verdict.get("status", "unknown")
    detail = verdict.get("detail", "")
    if "overloaded" in detail:
        return Plain("so loud the microphone overloaded", "", status)
    if "too noisy" in detail:
        return Plain("not judged: the room was too noisy", "", status)
    if not any(isinstance(d.get(k), (int, float)) for k in ("f0_delta_st", "level_delta_db")):
        if status == "needs_work":
            return Plain("you got louder toward the end", "", status)
        return Plain("not judged: no calm voice recorded yet (read the calm sentence first)", "", status)
    pitch = _step(d.get("f0_delta_st"), HIGHER_ST, "higher", "lower", "about your calm pitch")
    level = _step(d.get("level_delta_db"), LOUDER_DB, "louder", "quieter", "about as loud")
    words = ", ".join(
        w
        for w in (
            f"{pitch} than your calm voice" if pitch and "about" not in pitch else pitch,
            f"{level} than calm" if level and "about" not in level else level,
        )
        if w
    )
    if isinstance(d.get("balance_delta_db"), (int, float)) and d["balance_delta_db"] > EFFORT_DB:
        words += ", and straining"
    if "got_louder" in (d.get("trend") or ()):
        words += ", getting louder toward the end"
    numbers = ", ".join(
        n
        for n in (
            _signed(d["f0_delta_st"], "semitones") if isinstance(d.get("f0_delta_st"), (int, float)) else "",
            _signed(d["level_delta_db"], "dB") if isinstance(d.get("level_delta_db"), (int, float)) else "",
        )
        if n
    )
    return Plain(words, numbers, status)


def pauses(delivery: dict) -> str:
    d = delivery or {}
    n = d.get("pause_count") or 0
    if not n:
        return "no pauses to think (a short pause is fine)"
    total = d.get("pause_total_s")
    seconds = f", {total:.1f} s in all" if isinstance(total, (int, float)) else ""
    return f"{n} pause{'s' if n != 1 else ''} to think{seconds}"


def reason(text: str) -> str:
    """A reaction reason with any rubric ids in it named ("felt heard (apology)" -> "felt heard
    (you said sorry)"); brackets holding measures (172 words/min, +3 dB) are dropped, since the feedback
    says them in words; words in brackets stay."""

    def ids(group: str) -> list[str] | None:
        parts = [p.strip() for p in group.split(",")]
        return parts if parts and all(p in _names() for p in parts) else None

    text, before = str(text), None
    while text != before:  # innermost brackets first: a pace detail nests "(calm is 120-150)"
        before = text
        text = _PAREN.sub(lambda m: "" if _MEASURE.search(m.group(1)) else m.group(0), text)
    return _PAREN.sub(
        lambda m: " (" + ", ".join(map(item_name, ids(m.group(1)))) + ")" if ids(m.group(1)) else m.group(0), text
    )


def tip_text(text: str) -> str:
    """A tip without the guide file number in its sentence (the guide is cited by name beside it)
    and without the measures a delivery tip appends (the answer's details say them in words)."""
    return _GUIDE_REF.sub("", str(text).split(" You: ")[0])


def markdown(text: str) -> Markup:
    """The little Markdown the data uses (*can*, **not**) as HTML, everything else escaped."""
    html = str(escape(str(text)))
    html = re.sub(r"\*\*(\S(?:[^*]*\S)?)\*\*", r"<strong>\1</strong>", html)
    html = re.sub(r"\*(\S(?:[^*]*\S)?)\*", r"<em>\1</em>", html)
    return Markup(html)


def unmarked(text: str) -> str:
    """The same text for plain-text places (CSV, Markdown tables): the emphasis marks dropped."""
    return re.sub(r"\*{1,2}(\S(?:[^*]*\S)?)\*{1,2}", r"\1", str(text))
