"""How the answer was said: the measures, the trainee's calm baseline, and two verdicts.

The coaching guide asks the trainee to speak slowly and lower their voice (defuse-slow-down,
defuse-lower-voice). Absolute numbers differ by microphone and by voice, so each verdict compares
against the trainee's own calm baseline (a calibration sentence read at the start), falling
back to absolute bands only for the rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from audio.asr import Transcript
from audio.clip import Clip
from analysis import loudness, pitch, rate

CALM_WPM = (120.0, 150.0)
"""Comfortable, calm speech (words per minute)."""
HESITANT_WPM = 100.0
RUSHED_WPM = 160.0
"""Without a baseline, a pace above this is rushed."""
RUSHED_CAP_WPM = 180.0
"""Above this a pace is rushed whatever the trainee's own calm pace: a fast calibration reading
must not excuse an answer the customer cannot follow."""
FASTER_RATIO = 1.15
"""Rate more than 15 % above the trainee's calm baseline counts as speeding up."""
LOUDER_DB = 4.0
"""Active level more than 4 dB above baseline counts as a raised voice."""
HIGHER_ST = 2.0
"""Median pitch more than 2 semitones above baseline counts as a raised voice."""
EFFORT_DB = 4.0
"""Spectral balance more than 4 dB above baseline counts as a raised voice (vocal effort), even
when the microphone gain hides the level."""
MIN_SNR_DB = 10.0
"""Below this the room noise is too close to the voice to judge loudness. Measured SNR reads
about 12 dB for speech in speech-shaped noise at a true 10 dB and about 8 dB at a true 5 dB
(docs/validation.md), so the cut sits between them."""
BACKGROUND_DB = 8.0
"""Words this far below the answer's loud words, before or after it, are other people's: other
voices in a shop reach a headset 10 dB or more below the trainee's (four-talker babble at 10 dB:
its transcribed words peak 8 to 14 dB below the trainee's, the trainee's quietest 5 dB below)."""
CUSTOMER_RAISED_DB = 3.0
CUSTOMER_RAISED_ST = 2.0
"""A customer line this much louder or higher than the customer's calm voice is a raised voice."""
WORD_MARGIN_S = 0.05
"""Whisper's word edges are loose: frames this close to a word are neither room nor answer."""
CONTOUR_STEP_S = 0.1
"""Resolution of the stored pitch and level contours (10 points a second is plenty to plot)."""


@dataclass(frozen=True)
class Baseline:
    """The trainee's calm voice, measured once from a calibration sentence."""

    median_f0_hz: float
    level_db: float
    wpm: float
    spectral_balance_db: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Baseline:
        return cls(**{f.name: float(data[f.name]) for f in fields(cls)})


@dataclass(frozen=True)
class CustomerVoice:
    """How far the customer's current line is raised above the customer's own calm voice.

    Rises, not absolute levels: the customer's line is a TTS file and the trainee a microphone,
    so only changes against each one's own calm voice can be compared."""

    level_rise_db: float
    f0_rise_st: float

    @property
    def raised(self) -> bool:
        return self.level_rise_db >= CUSTOMER_RAISED_DB or self.f0_rise_st >= CUSTOMER_RAISED_ST


def customer_voice(calm: Clip, line: Clip) -> CustomerVoice:
    """Measure the customer's line against the same voice's calm line (e.g. the TTS voice at
    anger 0 saying the same text), with the measures used for the trainee."""
    calm_level = loudness.active_level_db(loudness.frame_levels(calm))
    line_level = loudness.active_level_db(loudness.frame_levels(line))
    calm_f0 = np.median(pitch.track_pitch(calm).voiced)
    line_f0 = np.median(pitch.track_pitch(line).voiced)
    return CustomerVoice(_r(line_level - calm_level, 1), _r(pitch.semitones(line_f0, calm_f0)))


VERDICT_RULES = {
    "speak_slowly": "defuse-slow-down",
    "lower_voice": "defuse-lower-voice",
    "mirroring": "defuse-dont-mirror",
}
"""The coaching-guide rule (scenarios/guide.toml) each verdict checks."""


@dataclass(frozen=True)
class Verdict:
    id: str
    """"speak_slowly", "lower_voice" or "mirroring"."""
    status: str
    """"pass", "needs_work" or "unknown" (not enough signal to judge)."""
    detail: str
    """The numbers behind the verdict, in words."""
    tip: str
    """One sentence of advice; the rule behind it is cited by ``source``, not in the words."""
    source: str = ""
    """Id of the guide rule it checks; left empty, the rule of its id in VERDICT_RULES."""

    def __post_init__(self) -> None:
        if not self.source:
            object.__setattr__(self, "source", VERDICT_RULES.get(self.id, ""))


@dataclass(frozen=True)
class PaceBand:
    """The paces the speak_slowly verdict passes. The pace chart draws this very band, so a dot
    outside it always goes with "needs work" and a dot inside with "pass", except for an answer
    that sped up toward its end: that fails whatever its overall pace, and its detail says so."""

    low_wpm: float
    """Below this the verdict's detail says the pace sounds hesitant (a slow pace never fails
    "speak slowly")."""
    high_wpm: float
    """Above this the verdict is "needs work"."""
    capped: bool
    """The top is RUSHED_CAP_WPM, below the trainee's own limit (calm pace x FASTER_RATIO)."""


def pace_band(baseline_wpm: float | None) -> PaceBand:
    """The band for a trainee whose calm pace is ``baseline_wpm`` (None: no baseline yet)."""
    if baseline_wpm is None or not math.isfinite(baseline_wpm) or baseline_wpm <= 0:
        return PaceBand(HESITANT_WPM, RUSHED_WPM, False)
    own = FASTER_RATIO * baseline_wpm
    return PaceBand(HESITANT_WPM, min(own, RUSHED_CAP_WPM), own > RUSHED_CAP_WPM)


@dataclass(frozen=True)
class DeliveryMeasures:
    duration_s: float
    speech_s: float
    """The speaking span: onset of the first voiced stretch to offset of the last (``rate.speaking_span``)."""
    words: int
    wpm: float
    syllables: int
    articulation_rate: float
    """Syllables per second of speaking time minus pauses."""
    median_f0_hz: float
    f0_p10_hz: float
    f0_p90_hz: float
    f0_spread_st: float
    """Distance from the 10th to the 90th pitch percentile, semitones."""
    level_db: float
    noise_floor_db: float
    snr_db: float
    spectral_balance_db: float
    clipped: bool
    clipped_fraction: float
    pause_count: int
    pause_total_s: float
    longest_pause_s: float
    fillers: tuple[str, ...]
    contour_times_s: tuple[float, ...] = ()
    """Centres of the CONTOUR_STEP_S bins of the two contours below."""
    f0_contour_hz: tuple[float, ...] = ()
    """Median F0 per bin (NaN, null in JSON, where unvoiced): for plots against the calm band."""
    level_contour_db: tuple[float, ...] = ()
    """Level per bin, dBFS (NaN where silent)."""
    rate_trend_ratio: float | None = None
    """Pace of the last third of the answer over the first third (None under 6 s of speech)."""
    level_trend_db: float | None = None
    """Median level of the last third minus the first third, dB (None under 6 s of speech)."""
    trend: tuple[str, ...] = ()
    """"sped_up" (pace up over 25 %), "got_louder" (up over 3 dB) toward the end."""
    f0_delta_st: float | None = None
    level_delta_db: float | None = None
    rate_ratio: float | None = None
    balance_delta_db: float | None = None
    """Spectral balance against the baseline: the vocal-effort change, whatever the gain."""
    speak_slowly: Verdict | None = None
    lower_voice: Verdict | None = None
    mirroring: Verdict | None = None
    """Set when the customer's voice is known: did the trainee rise with an angry customer?"""

    def to_dict(self) -> dict:
        """JSON-ready: NaN (nothing measurable) becomes null."""
        return _nan_to_none(asdict(self))

    def as_baseline(self) -> Baseline:
        return Baseline(self.median_f0_hz, self.level_db, self.wpm, self.spectral_balance_db)


def _nan_to_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd) if math.isfinite(x) else float("nan")


def _contours(
    duration_s: float, track: pitch.PitchTrack, levels: loudness.FrameLevels
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    n = int(np.ceil(duration_s / CONTOUR_STEP_S))
    times = tuple(round((b + 0.5) * CONTOUR_STEP_S, 2) for b in range(n))
    voiced = np.isfinite(track.f0_hz)
    f0_bins = np.minimum((track.times_s[voiced] / CONTOUR_STEP_S).astype(int), max(n - 1, 0))
    f0 = [float("nan")] * n
    # Frames arrive in time order, so each bin is one contiguous slice of the voiced frames.
    for b, start, stop in _slices(f0_bins):
        f0[b] = round(float(np.median(track.f0_hz[voiced][start:stop])), 1)
    lv_bins = np.minimum((levels.times_s[levels.speech] / CONTOUR_STEP_S).astype(int), max(n - 1, 0))
    power = np.bincount(lv_bins, 10 ** (levels.level_db[levels.speech] / 10), minlength=n)
    count = np.bincount(lv_bins, minlength=n)
    level = [round(float(10 * np.log10(p / c)), 1) if c else float("nan") for p, c in zip(power[:n], count[:n])]
    return times, tuple(f0), tuple(level)


def _slices(sorted_bins: np.ndarray) -> list[tuple[int, int, int]]:
    """(bin, start, stop) of each run of equal values in an ascending array."""
    if sorted_bins.size == 0:
        return []
    starts = np.flatnonzero(np.diff(sorted_bins)) + 1
    bounds = np.concatenate(([0], starts, [sorted_bins.size]))
    return [(int(sorted_bins[a]), int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _word_frames(levels: loudness.FrameLevels, words) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Frames from the first word to the last (the answer), and frames clear of every word by
    WORD_MARGIN_S (the room). None without words."""
    if not words:
        return None, None
    t = levels.times_s
    span = (t >= words[0].start_s) & (t <= words[-1].end_s)
    return span, ~_in_words(t, words, WORD_MARGIN_S)


def _in_words(times_s: np.ndarray, words, margin_s: float = 0.0) -> np.ndarray:
    """Frames inside some word's span (widened by ``margin_s``). Pitch statistics use only
    these: in a babble, the other voices fill the trainee's pauses with their own pitch."""
    inside = np.zeros(times_s.size, bool)
    for w in words:
        inside |= (times_s >= w.start_s - margin_s) & (times_s <= w.end_s + margin_s)
    return inside


@dataclass(frozen=True, eq=False)
class Signal:
    """The measures the audio alone gives, no words needed: the kiosk computes them while the
    answer's last words are still being transcribed."""

    levels: loudness.FrameLevels
    track: pitch.PitchTrack
    syllables: int
    spectral_balance_db: float
    clipped_fraction: float


def measure_signal(clip: Clip) -> Signal:
    levels = loudness.frame_levels(clip)
    track = pitch.track_pitch(clip)
    return Signal(
        levels,
        track,
        rate.count_syllables(clip, track.times_s[np.isfinite(track.f0_hz)]),
        loudness.spectral_balance_db(clip, levels),
        loudness.clipped_fraction(clip),
    )


def trainee_words(transcript: Transcript, levels: loudness.FrameLevels) -> Transcript:
    """The transcript less the words other people said before or after the answer.

    Whisper also writes down the chatter of a busy room when it is intelligible, and those words
    would lend their pitch and level to the trainee's and stretch the speaking span. The trainee
    is centimetres from the microphone and other voices metres away, so a leading or trailing
    run of words whose loudest frame is more than BACKGROUND_DB below the answer's loud words
    (their 90th percentile) is someone else. Only the runs at either end go: inside the answer,
    a quiet word is the trainee's."""
    words = transcript.words
    if len(words) < 3:
        return transcript
    peaks = []
    for w in words:
        inside = (levels.times_s >= w.start_s) & (levels.times_s < w.end_s)
        peaks.append(float(np.max(levels.level_db[inside])) if inside.any() else -np.inf)
    loud = float(np.percentile([p for p in peaks if np.isfinite(p)] or [0.0], 90))
    own = [n for n, p in enumerate(peaks) if p >= loud - BACKGROUND_DB]
    if not own or (own[0] == 0 and own[-1] == len(words) - 1):
        return transcript
    return Transcript.from_words(words[own[0] : own[-1] + 1], transcript.duration_s)


def measure(clip: Clip, transcript: Transcript, signal: Signal | None = None) -> DeliveryMeasures:
    """All delivery measures of one answer, without verdicts (``signal``: ``measure_signal(clip)``
    if already computed)."""
    signal = signal if signal is not None else measure_signal(clip)
    levels, track = signal.levels, signal.track
    transcript = trainee_words(transcript, levels)
    words = transcript.words
    voiced = track.f0_hz[_in_words(track.times_s, words)] if words else track.voiced
    voiced = voiced[np.isfinite(voiced)]
    f0_med, f0_p10, f0_p90 = np.percentile(voiced, [50, 10, 90]) if voiced.size else (float("nan"),) * 3
    start, end = rate.speaking_span(levels, words)
    speech_s = max(0.0, end - start)
    n_words = rate.spoken_word_count(transcript)
    pauses = rate.find_pauses(levels, start, end) if words else rate.Pauses(0, 0.0, 0.0)
    syllables = signal.syllables
    speaking = speech_s - pauses.total_s
    span, outside = _word_frames(levels, words)
    floor = loudness.noise_floor_db(levels, outside)
    level = loudness.active_level_db(levels, span, floor)
    clipped_fraction = signal.clipped_fraction
    times, f0_contour, level_contour = _contours(clip.duration_s, track, levels)
    trend = rate.find_trend(transcript, levels)
    return DeliveryMeasures(
        duration_s=_r(clip.duration_s, 3),
        speech_s=_r(speech_s, 3),
        words=n_words,
        wpm=_r(60.0 * n_words / speech_s, 1) if speech_s > 0.5 else float("nan"),
        syllables=syllables,
        articulation_rate=_r(syllables / speaking) if speaking > 0.5 else float("nan"),
        median_f0_hz=_r(f0_med, 1),
        f0_p10_hz=_r(f0_p10, 1),
        f0_p90_hz=_r(f0_p90, 1),
        f0_spread_st=_r(pitch.semitones(f0_p90, f0_p10)) if voiced.size else float("nan"),
        level_db=_r(level, 1),
        noise_floor_db=_r(floor, 1),
        snr_db=_r(level - floor, 1),
        spectral_balance_db=_r(signal.spectral_balance_db),
        clipped=clipped_fraction > 0.001,
        clipped_fraction=_r(clipped_fraction, 5),
        pause_count=pauses.count,
        pause_total_s=pauses.total_s,
        longest_pause_s=pauses.longest_s,
        fillers=tuple(rate.find_fillers(transcript)),
        contour_times_s=times,
        f0_contour_hz=f0_contour,
        level_contour_db=level_contour,
        rate_trend_ratio=trend.rate_ratio if trend else None,
        level_trend_db=trend.level_change_db if trend else None,
        trend=trend.labels if trend else (),
    )


def judge(
    m: DeliveryMeasures, baseline: Baseline | None = None, customer: CustomerVoice | None = None
) -> DeliveryMeasures:
    """Add the baseline deltas and the verdicts to a set of measures."""

    f0_delta = level_delta = ratio = balance = None
    if baseline is not None:
        if math.isfinite(m.median_f0_hz) and baseline.median_f0_hz > 0:
            f0_delta = _r(pitch.semitones(m.median_f0_hz, baseline.median_f0_hz))
        if math.isfinite(m.level_db):
            level_delta = _r(m.level_db - baseline.level_db, 1)
        if math.isfinite(m.wpm) and baseline.wpm > 0:
            ratio = _r(m.wpm / baseline.wpm)
        if math.isfinite(m.spectral_balance_db) and math.isfinite(baseline.spectral_balance_db):
            balance = _r(m.spectral_balance_db - baseline.spectral_balance_db)
    judged = replace(m, f0_delta_st=f0_delta, level_delta_db=level_delta, rate_ratio=ratio, balance_delta_db=balance)
    judged = replace(judged, speak_slowly=_judge_rate(judged, baseline), lower_voice=_judge_voice(judged, baseline))
    return replace(judged, mirroring=_judge_mirroring(judged, customer) if customer is not None else None)


def analyze_delivery(
    clip: Clip,
    transcript: Transcript,
    baseline: Baseline | None = None,
    customer: CustomerVoice | None = None,
    signal: Signal | None = None,
) -> DeliveryMeasures:
    return judge(measure(clip, transcript, signal), baseline, customer)


def _judge_rate(m: DeliveryMeasures, baseline: Baseline | None) -> Verdict:
    tip = "Slow down: a calm, unhurried pace shows the customer you are in control."
    if not math.isfinite(m.wpm):
        return Verdict("speak_slowly", "unknown", "too little speech to measure your pace", tip)
    band = pace_band(baseline.wpm if baseline is not None else None)
    rushed = m.wpm > band.high_wpm
    if m.rate_ratio is not None:
        own = f"{m.rate_ratio:.2f}x your calm pace of {baseline.wpm:.0f}"
        if rushed and band.capped:
            detail = (
                f"{m.wpm:.0f} words a minute: above {RUSHED_CAP_WPM:.0f} is rushed whatever your usual pace ({own})"
            )
        else:
            detail = f"{m.wpm:.0f} words/min, {own}"
    else:
        detail = f"{m.wpm:.0f} words/min (calm is {CALM_WPM[0]:.0f}-{CALM_WPM[1]:.0f}"
        if rushed:
            detail += f"; above {band.high_wpm:.0f} is rushed)"
        else:
            detail += f"; under {band.low_wpm:.0f} sounds hesitant)" if m.wpm < band.low_wpm else ")"
    status = "needs_work" if rushed else "pass"
    if "sped_up" in m.trend:
        detail += f", and {m.rate_trend_ratio:.2f}x faster by the end than at the start"
        status = "needs_work"
    return Verdict("speak_slowly", status, detail, tip)


def _judge_voice(m: DeliveryMeasures, baseline: Baseline | None) -> Verdict:
    tip = "Lower your voice: a quieter, lower tone keeps an angry customer from escalating."
    if m.clipped:
        return Verdict(
            "lower_voice",
            "needs_work",
            f"your voice overloaded the microphone ({100 * m.clipped_fraction:.1f} % of samples clipped)",
            tip,
        )
    if not math.isfinite(m.snr_db) or m.snr_db < MIN_SNR_DB:
        snr = f" (your voice was only {m.snr_db:.0f} dB above the room noise)" if math.isfinite(m.snr_db) else ""
        return Verdict("lower_voice", "unknown", f"too noisy to judge your volume{snr}", tip)
    louder = f"{m.level_trend_db:+.1f} dB louder by the end than at the start" if "got_louder" in m.trend else ""
    if baseline is None:
        if louder:
            return Verdict("lower_voice", "needs_work", f"you got {louder}", tip)
        return Verdict(
            "lower_voice", "unknown", "no calm baseline yet: read the calibration sentence to judge your volume", tip
        )
    parts, raised = ([louder], True) if louder else ([], False)
    if m.level_delta_db is not None:
        parts.append(f"{m.level_delta_db:+.1f} dB vs your calm level")
        raised |= m.level_delta_db > LOUDER_DB
    if m.f0_delta_st is not None:
        parts.append(f"pitch {m.f0_delta_st:+.1f} semitones vs calm")
        raised |= m.f0_delta_st > HIGHER_ST
    if m.balance_delta_db is not None:
        parts.append(f"vocal effort {m.balance_delta_db:+.1f} dB vs calm")
        raised |= m.balance_delta_db > EFFORT_DB
    if not parts:
        return Verdict("lower_voice", "unknown", "no voiced speech to measure", tip)
    return Verdict("lower_voice", "needs_work" if raised else "pass", ", ".join(parts), tip)


def _judge_mirroring(m: DeliveryMeasures, customer: CustomerVoice) -> Verdict:
    """Guide rule defuse-dont-mirror: emotions are infectious, and a calm, low voice matters most
    when the customer is loud. Mirroring is a raised voice (the lower_voice verdict: level, pitch or effort over
    the trainee's calm baseline) answering a customer whose own voice was raised."""
    tip = "Don't match the customer's volume: stay calm and low while they are loud."
    said = f"the customer was {customer.level_rise_db:+.1f} dB and {customer.f0_rise_st:+.1f} semitones above their calm voice"
    if not customer.raised:
        return Verdict("mirroring", "pass", f"{said}: not raised, nothing to mirror", tip)
    if m.lower_voice is None or m.lower_voice.status == "unknown":
        return Verdict("mirroring", "unknown", f"{said}; your own rise could not be measured", tip)
    yours = f"you were {m.level_delta_db or 0:+.1f} dB and {m.f0_delta_st or 0:+.1f} semitones above yours"
    return Verdict(
        "mirroring", "needs_work" if m.lower_voice.status == "needs_work" else "pass", f"{said}; {yours}", tip
    )
