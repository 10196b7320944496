"""audio.clip: decoding every format a kiosk meets, resampling, and refusing bad files clearly."""

import av
import numpy as np
import pytest

from audio.clip import AudioError, Clip, load, save_wav
from conftest import speech_file


def _encode(clip: Clip, path, codec: str, rate: int) -> None:
    """Encode with PyAV (the same FFmpeg the kiosk decodes with)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        pcm = (clip.resampled(rate).samples * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_wav_loads_as_16k_mono_float(jfk):
    assert jfk.sample_rate_hz == 16000
    assert jfk.samples.dtype == np.float32
    assert jfk.duration_s == pytest.approx(11.0, abs=0.01)
    assert 0.5 < np.abs(jfk.samples).max() <= 1.0


@pytest.mark.parametrize(
    "suffix,codec,rate",
    [("flac", "flac", 16000), ("mp3", "libmp3lame", 44100), ("webm", "libopus", 48000), ("ogg", "libopus", 48000)],
)
def test_compressed_formats_decode_to_the_same_signal(tmp_path, jfk, suffix, codec, rate):
    path = tmp_path / f"jfk.{suffix}"
    _encode(jfk, path, codec, rate)
    clip = load(path)
    assert clip.sample_rate_hz == 16000
    assert clip.duration_s == pytest.approx(jfk.duration_s, abs=0.1)
    # Lossy codecs shift and colour the signal; the envelope must still match.
    n = min(len(clip.samples), len(jfk.samples))

    def env(x):
        return np.convolve(np.abs(x[:n]), np.ones(1600) / 1600, mode="valid")[::160]

    assert np.corrcoef(env(jfk.samples), env(clip.samples))[0, 1] > 0.95


def test_save_and_reload_is_lossless_to_16_bits(tmp_path, jfk):
    path = save_wav(jfk, tmp_path / "sub" / "copy.wav")
    again = load(path)
    assert np.max(np.abs(again.samples - jfk.samples)) <= 1 / 32768 + 1e-7
    assert not list(path.parent.glob(".*tmp")), "no temporary file may be left behind"


def test_resampling_keeps_a_tone_at_its_frequency():
    t = np.arange(22050) / 22050
    clip = Clip(0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32), 22050).resampled(16000)
    assert len(clip.samples) == 16000
    spectrum = np.abs(np.fft.rfft(clip.samples))
    assert np.argmax(spectrum) == pytest.approx(440, abs=1)


def test_native_rate_is_kept_on_request():
    assert load(speech_file("jfk.wav"), sample_rate_hz=None).sample_rate_hz == 16000


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"this is not audio at all" * 50, "not a readable audio file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a readable audio file|no audio"),
    ],
)
def test_bad_files_raise_one_clear_sentence(tmp_path, content, message):
    path = tmp_path / "answer.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=message) as info:
        load(path)
    assert "\n" not in str(info.value)


def test_truncated_wav_keeps_what_is_there(tmp_path):
    data = speech_file("jfk.wav").read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 2])
    assert load(path).duration_s == pytest.approx(5.5, abs=0.1)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such audio file"):
        load(tmp_path / "nope.wav")


def test_decoding_stops_at_the_duration_limit(jfk, tmp_path):
    path = save_wav(jfk, tmp_path / "long.wav")
    with pytest.raises(AudioError, match="longer than the 5 s limit"):
        load(path, max_duration_s=5)


def test_pcm16_round_trip():
    clip = Clip(np.array([0.0, 0.5, -0.5, 1.0, -1.0], np.float32), 16000)
    back = Clip.from_pcm16(clip.to_pcm16())
    assert np.allclose(back.samples, clip.samples, atol=1 / 32768)


def test_gain_in_db_scales_amplitude(jfk):
    assert np.abs(jfk.gained_db(-12).samples).max() == pytest.approx(
        np.abs(jfk.samples).max() * 10 ** (-12 / 20), rel=1e-5
    )
