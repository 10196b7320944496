"""audio.tts: real espeak-ng through pyttsx3, the real neural voice (Piper), the disk cache, and
anger you can hear with either engine."""

import numpy as np
import pytest

from audio.neural_voice import (
    CLAUSE_PAUSE_S,
    MAX_PIECE_PHONEMES,
    SENTENCE_PAUSE_S,
    VOICE_PIN,
    NeuralVoiceError,
    find_voice,
    split_phonemes,
)
from audio.tts import ENGINES, Synthesizer, TTSError, Voice, neural_can_play, voice_note
from audio.wer import word_error_rate
from analysis.delivery import customer_voice, measure
from analysis.pitch import track_pitch

LINE = "I have been waiting for three weeks and nobody can tell me where my order is."


def test_synthesis_gives_16k_speech_and_is_cached(tmp_path):
    synth = Synthesizer(tmp_path)
    path = synth.synthesize_to_file(LINE, Voice())
    clip = synth.synthesize(LINE, Voice())
    assert clip.sample_rate_hz == 16000 and 2.0 < clip.duration_s < 8.0
    assert np.abs(clip.samples).max() > 0.1
    mtime = path.stat().st_mtime_ns
    assert synth.synthesize_to_file(LINE, Voice()) == path and path.stat().st_mtime_ns == mtime
    assert synth.cache_path(LINE, Voice(rate_wpm=200)) != path  # settings are part of the key


def test_many_lines_in_a_row_all_synthesize(tmp_path):
    synth = Synthesizer(tmp_path)
    for i in range(5):
        assert synth.synthesize(f"Line number {i}. It has two sentences.", Voice(pitch=40 + i)).duration_s > 1


def _measures(clip):
    f0 = track_pitch(clip).voiced
    return float(np.median(f0)), clip.duration_s, float(np.sqrt(np.mean(clip.samples**2)))


@pytest.mark.parametrize("voice", ["en-us+f3", "en+m3"])
def test_anger_raises_pitch_rate_and_volume(tmp_path, voice):
    synth = Synthesizer(tmp_path)
    base = Voice(name=voice)
    calm = _measures(synth.synthesize(LINE, base.with_anger(0)))
    furious = _measures(synth.synthesize(LINE, base.with_anger(4)))
    middle = _measures(synth.synthesize(LINE, base.with_anger(2)))
    assert furious[0] > middle[0] > calm[0] * 1.1  # F0 rises with anger
    assert furious[1] < middle[1] < calm[1] * 0.9  # faster: the line takes less time
    assert 20 * np.log10(furious[2] / calm[2]) > 3  # louder by more than 3 dB


def test_an_unknown_voice_is_a_clear_error(tmp_path):
    with pytest.raises(TTSError, match="no voice 'en-gb'"):
        Synthesizer(tmp_path).synthesize("Hello.", Voice(name="en-gb"))


def test_empty_line_is_refused(tmp_path):
    with pytest.raises(TTSError, match="empty"):
        Synthesizer(tmp_path).synthesize("   ", Voice())


def test_every_line_gets_its_own_settings(tmp_path):
    """pyttsx3's asynchronous loop gave ~half the lines the previous line's rate (measured 20/40);
    alternating calm and furious lines must each come out at their own pace."""
    synth = Synthesizer(tmp_path)
    calm, furious = [], []
    for n in range(6):
        text = f"{LINE} Number {n}."
        calm.append(synth.synthesize(text, Voice().with_anger(0)).duration_s)
        furious.append(synth.synthesize(text, Voice().with_anger(4)).duration_s)
    assert max(furious) < min(calm)


# --- Either engine: anger measured by the kiosk's own delivery analysis --------------------------

ANGRY_LINES = (LINE, "Your driver never came. I was in all day yesterday and now your website says I missed it.")


@pytest.mark.parametrize("engine,persona", [("espeak", "en-us+f3"), ("espeak", "en+m3"), ("piper", "en-us+m2")])
@pytest.mark.parametrize("text", ANGRY_LINES)
def test_anger_4_against_0_is_heard_by_the_delivery_analysis(tmp_path, transcriber, engine, persona, text):
    """Anger 4 against anger 0, measured by the delivery analysis the kiosk applies to the
    customer's lines (``customer_voice``: the rise of F0 and active level over the calm line)
    and the pace it measures on a trainee (``measure`` on Whisper's words): F0 at least +2
    semitones, level at least +3 dB, pace at least +10 %."""
    synth = Synthesizer(tmp_path, engine)
    voice = synth.voice_for(persona)
    assert voice.engine == engine
    calm_clip, furious_clip = (synth.synthesize(text, voice.with_anger(a)) for a in (0, 4))
    rise = customer_voice(calm_clip, furious_clip)
    assert rise.f0_rise_st >= 2.0 and rise.level_rise_db >= 3.0, rise
    calm = measure(calm_clip, transcriber.transcribe(calm_clip))
    furious = measure(furious_clip, transcriber.transcribe(furious_clip))
    assert furious.wpm >= 1.10 * calm.wpm


# --- The neural voice ---------------------------------------------------------------------------


def test_the_neural_voice_is_installed_and_matches_its_pin():
    files = find_voice()
    assert files.version == VOICE_PIN["version"] and files.model_path.name == VOICE_PIN["model"]


def test_a_voice_file_that_does_not_match_its_pin_is_refused(monkeypatch):
    monkeypatch.setitem(VOICE_PIN, "model_sha256", "0" * 64)
    with pytest.raises(NeuralVoiceError, match="does not match the pinned checksum"):
        find_voice()


@pytest.mark.parametrize(
    "persona,neural",
    [
        ("en-us+m2", True),
        ("en+m8", True),
        ("en-us", True),
        ("en-us+f3", False),
        ("en+grandma", False),
        ("en-gb-scotland+m2", False),
        ("en-029+m1", False),
    ],
)
def test_the_neural_voice_plays_only_the_personas_it_can(tmp_path, persona, neural):
    assert neural_can_play(persona) is neural
    voice = Synthesizer(tmp_path, "piper").voice_for(persona)
    assert voice.engine == ("piper" if neural else "espeak")
    assert Synthesizer(tmp_path, "espeak").voice_for(persona).engine == "espeak"
    assert ("cannot play" in voice_note(Synthesizer(tmp_path, "piper"), voice)) is not neural


def test_neural_lines_are_16k_cached_and_keyed_by_engine(tmp_path):
    synth = Synthesizer(tmp_path, "piper")
    voice = synth.voice_for("en-us+m2")
    path = synth.synthesize_to_file(LINE, voice)
    clip = synth.synthesize(LINE, voice)
    assert clip.sample_rate_hz == 16000 and 2.0 < clip.duration_s < 8.0
    assert 0.1 < np.abs(clip.samples).max() < 1.0
    mtime = path.stat().st_mtime_ns
    assert synth.synthesize_to_file(LINE, voice) == path and path.stat().st_mtime_ns == mtime
    espeak_voice = Synthesizer(tmp_path, "espeak").voice_for("en-us+m2")
    assert synth.cache_path(LINE, espeak_voice) != path  # the engine is in the key
    assert synth.cache_path(LINE, Voice("en-us+m3", engine="piper")) != path  # and the voice


def test_whisper_hears_the_neural_customer_better_than_espeak(tmp_path, transcriber):
    """The point of the neural voice, measured: Whisper's word error rate on the customer's lines
    at every anger. Each synthesis differs a little (VITS samples its noise), so the bound is
    over all the lines: over the male personas' 90 lines it was 5.5 % against espeak's 31 %."""

    def wer(engine: str) -> float:
        synth = Synthesizer(tmp_path / engine, engine)
        pairs = [
            (text, transcriber.transcribe(synth.synthesize(text, synth.voice_for("en+m5").with_anger(a))).text)
            for text in ANGRY_LINES
            for a in (0, 2, 4)
        ]
        return word_error_rate(" ".join(t for t, _ in pairs), " ".join(h for _, h in pairs))

    neural, robotic = wer("piper"), wer("espeak")
    assert neural <= 0.05 and neural < robotic, (neural, robotic)


def test_an_unknown_engine_is_a_clear_error(tmp_path):
    with pytest.raises(TTSError, match="unknown speech engine 'festival'"):
        Synthesizer(tmp_path, "festival")
    assert ENGINES == ("espeak", "piper")


def test_the_settings_know_the_same_engines():
    from kiosk.settings import TTS_ENGINES

    assert TTS_ENGINES == ENGINES


def test_long_sentences_are_synthesized_in_pieces_cut_at_commas_first():
    words = [list("ɡʊd"), list("ðæts"), list("ɔːl"), list("aɪ"), list("wɒntɪd")] * 5
    sentence = [p for i, w in enumerate(words) for p in (w + ([","] if i == 5 else []) + [" "])][:-1] + ["."]
    pieces = split_phonemes(sentence)
    assert len(pieces) > 1 and all(len(piece) <= MAX_PIECE_PHONEMES for piece, _ in pieces)
    assert [p for piece, _ in pieces for p in piece if p != " "] == [p for p in sentence if p != " "]
    assert pieces[0][0][-1] == "," and pieces[0][1] == CLAUSE_PAUSE_S  # the comma is the first cut
    assert pieces[-1][1] == SENTENCE_PAUSE_S
    assert split_phonemes(list("hɛloʊ.")) == [(list("hɛloʊ."), SENTENCE_PAUSE_S)]


def test_without_the_pinned_voice_the_customer_speaks_espeak_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setitem(VOICE_PIN, "version", "9.9.9")  # the installed 1.0.0 no longer matches
    synth = Synthesizer(tmp_path, "piper")
    voice = synth.voice_for("en-us+m2")
    assert synth.engine == "espeak" and voice.engine == "espeak"
    assert "pinned to 9.9.9" in voice_note(synth, voice)
    assert synth.synthesize("Hello there.", voice).duration_s > 0.3


def test_the_engine_setting_is_read_and_checked(tmp_path):
    from kiosk.errors import SettingsError
    from kiosk.settings import load_settings

    env = {"KIOSK_DATA_DIR": str(tmp_path)}
    assert load_settings(env).tts_engine == "espeak"
    assert load_settings({**env, "KIOSK_TTS_ENGINE": "piper"}).tts_engine == "piper"
    assert load_settings({**env, "KIOSK_TTS_ENGINE": "piper"}, tts_engine="espeak").tts_engine == "espeak"
    with pytest.raises(SettingsError, match="KIOSK_TTS_ENGINE: tts_engine must be 'espeak' or 'piper'"):
        load_settings({**env, "KIOSK_TTS_ENGINE": "festival"})
