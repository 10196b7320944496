"""audio.tts: real espeak-ng through pyttsx3, the disk cache, and anger you can hear."""

import numpy as np
import pytest

from audio.tts import Synthesizer, TTSError, Voice
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
    assert synth.cache_path(LINE, Voice(rate_wpm=200)) != path   # settings are part of the key


def test_many_lines_in_a_row_all_synthesize(tmp_path):
    synth = Synthesizer(tmp_path)
    for i in range(5):
        assert synth.synthesize(f"Line number {i}. It has two sentences.", Voice(pitch=40 + i)).duration_s > 1


def _measures(clip):
    f0 = track_pitch(clip).voiced
    return float(np.median(f0)), clip.duration_s, float(np.sqrt(np.mean(clip.samples ** 2)))


@pytest.mark.parametrize("voice", ["en-us+f3", "en+m3"])
def test_anger_raises_pitch_rate_and_volume(tmp_path, voice):
    synth = Synthesizer(tmp_path)
    base = Voice(name=voice)
    calm = _measures(synth.synthesize(LINE, base.with_anger(0)))
    furious = _measures(synth.synthesize(LINE, base.with_anger(4)))
    middle = _measures(synth.synthesize(LINE, base.with_anger(2)))
    assert furious[0] > middle[0] > calm[0] * 1.1              # F0 rises with anger
    assert furious[1] < middle[1] < calm[1] * 0.9              # faster: the line takes less time
    assert 20 * np.log10(furious[2] / calm[2]) > 3             # louder by more than 3 dB


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
