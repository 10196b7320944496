"""The `kiosk` command end to end, in subprocesses, as a user runs it."""

import json
import re

import pytest

from conftest import ROOT, run_kiosk, speech_file
from kiosk.cli import build_parser
from kiosk.report import tip_citation


def test_demo_runs_a_conversation_and_writes_both_reports(tmp_path):
    out = tmp_path / "demo"
    result = run_kiosk("demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Loading the speech model" in result.stderr  # progress while the model loads
    assert f"Report written to {out}" in result.stdout
    report = json.loads((out / "report.json").read_text())
    turns = report["turns"]
    assert 2 <= len(turns) <= 4 and report["ending"] == "resolved"
    curve = report["anger_curve"]
    assert len(curve) == len(turns) + 1
    assert curve[1] > curve[0] and curve[-1] < curve[0]  # the stumble angers, the rest calms
    model = turns[1]  # the scenario's model answer
    # The synthesized model answer went through VAD + Whisper: its words came back.
    assert "sorry" in model["transcript"]["text"].lower()
    assert model["delivery"]["wpm"] > 80 and model["delivery"]["median_f0_hz"] > 60
    assert model["delivery"]["speak_slowly"]["status"] in {"pass", "needs_work"}
    hits = {f["id"] for f in model["content"]["items"] if f["hit"]}
    assert {"apology", "options"} <= hits
    for finding in model["content"]["items"]:
        if finding["hit"]:
            assert finding["evidence"][0]["quote"].strip()
    assert model["reaction"]["kind"] == "accept" and turns[-1]["reaction"]["kind"] == "resolved"
    assert len(report["tips"]) <= 3
    # The scorecard moves with the ending, and the print-out shows it with the trainee's words.
    assert report["scorecard"]["score"] == report["score"] >= 70
    assert f"Session over: resolved; score {report['score']}/100" in result.stdout
    assert "\u2713 You said sorry for what went wrong (answer 2: \u201c" in result.stdout
    assert "What this answer did for the conversation:" in result.stdout and "you hid behind" in result.stdout
    md = (out / "report.md").read_text()
    assert "# Practice report" in md and "## Tips" in md
    # The print-out cites each tip's guide rule by name, never by file number.
    for tip in report["tips"]:
        assert f"({tip_citation(tip)})" in result.stdout
    assert not re.search(r"guide \d|\b00[0-4]\b", result.stdout)


def test_analyze_prints_the_turn_as_json():
    result = run_kiosk("analyze", str(speech_file("jfk.wav")), "--scenario", "late-delivery", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "americans" in data["transcript"]["text"].lower()
    assert data["transcript"]["words"][0]["start_s"] >= 0
    for key in ("duration_s", "speech_s", "wpm", "median_f0_hz", "level_db", "pause_count"):
        assert key in data["delivery"]
    assert 0 <= data["content"]["score"] <= 100


def test_corrupt_audio_is_one_line_and_non_zero(tmp_path):
    bad = tmp_path / "answer.wav"
    bad.write_bytes(b"RIFF....WAVEjunkjunkjunk" * 20)
    result = run_kiosk("analyze", str(bad), "--json")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_no_input_device_is_one_line_and_non_zero(tmp_path):
    conf = tmp_path / "asoundrc"
    conf.write_text("pcm.!default { type hw; card 99 }\nctl.!default { type hw; card 99 }\n")
    result = run_kiosk(
        "practice", "--scenario", "late-delivery", env={"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{conf}"}
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: no microphone found")
    assert "Traceback" not in result.stderr


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_has_help_with_an_example_and_is_in_the_readme(name):
    help_text = _commands()[name].format_help()
    assert re.search(rf"Examples:\n\s+kiosk {name}", help_text)
    assert f"kiosk {name}" in (ROOT / "README.md").read_text()


def test_practice_plays_the_customer_and_judges_the_microphone(tmp_path, synth, engines):
    """`kiosk practice` on the headless ALSA device: the answer comes from the "microphone",
    which is open while the customer speaks; the trainee waits for the customer to finish."""
    from audio.clip import Clip, load
    from kiosk.commands import DEMO_TRAINEE
    from kiosk.session import PracticeSession
    from scenarios.library import load_library
    from conftest import ASOUNDRC, AlsaFileDevice

    line = load(PracticeSession(load_library().get("late-delivery"), engines).current_line.audio_path)
    answer = synth.synthesize(
        "I'm so sorry about your sofa. Let me check with the depot, and I can "
        "book you the first slot tomorrow or refund the delivery charge.",
        DEMO_TRAINEE,
    )
    device = AlsaFileDevice(tmp_path / "in.raw", tmp_path / "out.raw")
    device.feed(Clip.silence(line.duration_s + 0.5).concat(answer, Clip.silence(2.0)))
    conf = tmp_path / "asoundrc"
    conf.write_text(
        ASOUNDRC.read_text()
        .replace(str(ASOUNDRC.parent / "in.raw"), str(device.infile))
        .replace(str(ASOUNDRC.parent / "out.raw"), str(device.outfile))
    )
    out = tmp_path / "report"
    result = run_kiosk(
        "practice",
        "--scenario",
        "late-delivery",
        "--out",
        str(out),
        env={"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{conf}"},
    )
    assert result.returncode == 0, result.stderr
    assert "I took the whole day off work" in result.stdout  # the caption of what was played
    assert len(device.played()) > 16000  # and it was played
    report = json.loads((out / "report.json").read_text())
    assert "depot" in report["turns"][0]["transcript"]["text"].lower()
    penalties = {p["id"]: p["hit"] for p in report["turns"][0]["content"]["penalties"]}
    assert penalties["interrupt"] is False
