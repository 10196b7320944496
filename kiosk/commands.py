"""What each `kiosk` command does. Each is a few calls into the packages below."""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from audio.answer_stream import AnswerStream, record_streaming
from audio.capture import Outcome, record_answer
from audio.clip import AudioError, Clip, load
from audio.devices import Microphone, list_devices, require
from audio.duplex import LineHeard, answer_over_line
from audio.source import AudioChunk, chunks_from_clip
from audio.vad import EndpointConfig
from audio.tts import Voice, voice_note
from analysis.content import ScoringContext
from analysis.delivery import Baseline
from scenarios.library import load_library, validate_folder
from scenarios.rubric import load_rubric
from kiosk.console import (
    UsageError,
    default_out,
    print_analysis,
    print_card,
    print_delivery_in_words,
    print_json,
    print_scorecard,
    step,
)
from kiosk import plain
from kiosk.report import tip_citation, write_reports
from kiosk.session import (
    CALIBRATION_TEXT,
    AnswerError,
    Engines,
    PracticeSession,
    TurnRecord,
    analyze_answer,
    measure_baseline,
)

MAX_UNHEARD = 2
"""Consecutive answers with no speech after which a terminal session stops."""

DEMO_TRAINEE = Voice(name="en-us+m3", rate_wpm=125, pitch=45)
"""The demo trainee: a calm, slightly slow male voice, distinct from every customer voice."""
DEMO_RATTLED = replace(DEMO_TRAINEE, rate_wpm=215, pitch=70)
"""The same trainee caught off guard: faster and higher, so the customer reacts to the voice too."""

DEMO_STUMBLE = "Look, I'm afraid there's nothing I can do about that."
"""The demo's first answer: a stonewall, said in a rattled voice, so the anger curve rises first."""
DEMO_CLOSE = (
    "Thank you for your patience while we sorted this out. I'll check in with you "
    "tomorrow to make sure everything went smoothly."
)
"""The demo's answer once the customer has accepted: a positive close (defuse-positive-end,
method-follow-up)."""


def _engines(args: argparse.Namespace) -> Engines:
    """The engines; the customer's voice engine from --tts-engine or the settings, for the
    commands that speak (the others never load a voice)."""
    engine = _settings(tts_engine=args.tts_engine).tts_engine if hasattr(args, "tts_engine") else "espeak"
    return step("Loading the speech model", Engines.load, getattr(args, "model", None), tts_engine=engine)


def _print_turn(record: TurnRecord, session: PracticeSession) -> None:
    print_delivery_in_words(record.analysis)
    print_card(record.card, session.rules.goals)
    r = record.reaction
    print(f"\nCustomer (anger {r.anger_before} -> {r.anger_after}): {r.line}")
    if r.reasons:
        print(f"  why: {'; '.join(plain.reason(reason) for reason in r.reasons)}")


def _print_result(session: PracticeSession, out_dir: Path) -> None:
    result = session.result()
    print(
        f"\nSession over: {result.ending or 'stopped'}; score {result.score}/100; "
        f"anger {' -> '.join(map(str, result.anger_curve))}"
    )
    print_scorecard(result.scorecard)
    for n, tip in enumerate(result.tips, 1):
        print(f"  tip {n}: {tip.text}\n         ({tip_citation(tip.to_dict())})")
    json_path, md_path = write_reports(result, out_dir, session.baseline)
    print(f"\nReport written to {out_dir}/ ({json_path.name}, {md_path.name})")


def _speech_through_pipeline(clip: Clip):
    """Pad a synthesized answer with silence and run it through live capture's endpointing."""
    padded = Clip.silence(0.5).concat(clip.resampled(), Clip.silence(1.5))
    return record_answer(chunks_from_clip(padded))


def _demo_answer(session: PracticeSession, scripted: list[str]) -> tuple[str, Voice]:
    """What the demo trainee says next: the --answer texts in order if given; otherwise a
    stumble first, the scenario's model answer until the customer takes it, then a close."""
    turn = len(session.turns)
    if scripted:
        return scripted[turn], DEMO_TRAINEE
    if turn == 0:
        return DEMO_STUMBLE, DEMO_RATTLED
    if session.state.accepted:
        return DEMO_CLOSE, DEMO_TRAINEE
    return session.scenario.model_answer, DEMO_TRAINEE


def demo(args: argparse.Namespace) -> int:
    library = load_library()
    scenario = library.get(args.scenario)
    out_dir = args.out or default_out("demo")
    engines = _engines(args)
    synth = engines.synthesizer
    calm = step(
        "Measuring the demo trainee's calm baseline",
        lambda: measure_baseline(synth.synthesize(CALIBRATION_TEXT, DEMO_TRAINEE), engines),
    )
    session = PracticeSession(scenario, engines, calm)
    print(f"\nScenario: {scenario.title} ({scenario.setting}, difficulty {scenario.difficulty})")
    print(f"Customer {scenario.persona.name} (anger {session.current_line.anger}): {session.current_line.text}")
    print(f"  voice: {voice_note(engines.synthesizer, session.current_line.voice)}")
    scripted = args.answer or []
    turns = len(scripted) or scenario.max_turns
    while not session.finished and len(session.turns) < turns:
        text, voice = _demo_answer(session, scripted)
        print(f"\n--- Turn {len(session.turns) + 1}: the trainee answers ---")
        record = session.answer(_speech_through_pipeline(synth.synthesize(text, voice)))
        _print_turn(record, session)
    _print_result(session, out_dir)
    return 0


def _until_enter(chunks: Iterator[AudioChunk]) -> Iterator[AudioChunk]:
    """Push-to-talk in a terminal: the answer runs until the trainee presses Enter."""
    pressed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), pressed.set()), daemon=True).start()
    for chunk in chunks:
        if pressed.is_set():
            return
        yield chunk


def _record(
    mic_device,
    prompt: str,
    config: EndpointConfig = EndpointConfig(),
    line: Clip | None = None,
    speaker=None,
    heard: LineHeard | None = None,
    listen: Callable[[EndpointConfig], AnswerStream] | None = None,
):
    """One answer from the microphone. With ``line``, the microphone opens before the customer's
    line plays (so an interruption is heard) and the customer's voice is taken back out. With
    ``listen`` (a session's), the answer is streamed (endpointed on its words, transcribed while
    it is spoken) and that stream is returned beside the recording, else None."""
    print(prompt + (" Press Enter when you have finished." if not config.end_on_silence else ""), file=sys.stderr)

    def meter(db: float) -> None:
        bars = int(max(0.0, min(40.0, (db + 60.0) * 40 / 60)))
        print(f"\r  level |{'#' * bars:<40}|", end="", file=sys.stderr, flush=True)

    with Microphone(mic_device) as mic:
        if line is None:
            chunks = mic.chunks()
        else:
            chunks = answer_over_line(mic, line, speaker, heard)
            # The trainee's time to answer starts when the customer stops, not when the mic opens.
            config = replace(
                config,
                no_speech_timeout_s=config.no_speech_timeout_s + line.duration_s,
                max_answer_s=config.max_answer_s + line.duration_s,
            )
        if not config.end_on_silence:
            chunks = _until_enter(chunks)
        stream = listen(config) if listen is not None else None
        if stream is None:
            recording = record_answer(chunks, config, on_level=meter)
        else:
            recording = record_streaming(chunks, stream, on_level=meter)
    print("", file=sys.stderr)
    if recording.outcome is Outcome.DEVICE_LOST:
        if not recording.has_speech:
            if stream is not None:
                stream.close()
            raise AnswerError(recording.error or "the microphone stopped working")
        print(f"  {recording.error}: judging what was heard before it stopped.", file=sys.stderr)
    return recording, stream


def _device(value: str | None):
    return int(value) if value is not None and value.isdigit() else value


def practice(args: argparse.Namespace) -> int:
    library = load_library()
    scenario = library.get(args.scenario) if args.scenario else random.choice(library.sorted())
    mic = require("input", _device(args.input_device))
    speaker = require("output", _device(args.output_device))
    engines = _engines(args)
    baseline = None
    if args.calibrate:
        print(f'\nCalibration: read this calmly, at your normal pace:\n  "{CALIBRATION_TEXT}"')
        baseline = measure_baseline(_record(mic, "Speak now…")[0].speech_clip(), engines)
    session = PracticeSession(scenario, engines, baseline)
    room = EndpointConfig.for_room(bool(args.noisy_store), bool(args.push_to_talk))
    print(f"\nScenario: {scenario.title}")
    unheard = 0
    while not session.finished and unheard < MAX_UNHEARD:
        line = session.current_line
        print(f"\nCustomer (anger {line.anger}): {line.text}")
        heard = LineHeard()
        try:
            # Streamed: transcribed while the trainee is still talking (answer() closes it).
            recording, stream = _record(
                mic,
                "Your answer (stop talking to finish)…",
                room,
                load(line.audio_path),
                speaker,
                heard,
                session.listen,
            )
            record = session.answer(recording, customer_end_s=heard.line_end_s, stream=stream)
        except AnswerError as exc:
            unheard += 1
            print(f"  {exc}")
            continue
        unheard = 0
        _print_turn(record, session)
    if unheard >= MAX_UNHEARD:
        print("\nNo answer twice in a row: stopping here.")
    _print_result(session, args.out or default_out("practice"))
    return 0


def devices(args: argparse.Namespace) -> int:
    found = list_devices()
    if not found:
        print("No audio devices found.")
        return 1
    for d in found:
        marks = ("in " if d.is_default_input else "") + ("out" if d.is_default_output else "")
        print(
            f"{d.index:>3} {d.name} [{d.host_api}] inputs={d.max_input_channels} "
            f"outputs={d.max_output_channels} {d.default_sample_rate_hz:.0f} Hz {marks}".rstrip()
        )
    return 0


def transcribe(args: argparse.Namespace) -> int:
    clip = load(args.file)
    engines = Engines.load(args.model) if args.json else _engines(args)
    transcript = engines.transcriber.transcribe(clip)
    if args.json:
        print_json(transcript.to_dict())
        return 0
    print(transcript.text)
    for w in transcript.words:
        print(f"  {w.start_s:7.2f} {w.end_s:7.2f}  {w.text}")
    return 0


def _baseline(path: Path | None, engines: Engines) -> Baseline | None:
    if path is None:
        return None
    if path.suffix.lower() == ".json":
        try:
            return Baseline.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AudioError(f"{path}: not a baseline JSON file ({exc})") from exc
    return measure_baseline(load(path), engines)


def analyze(args: argparse.Namespace) -> int:
    clip = load(args.file)
    context = ScoringContext()
    if args.scenario:
        context = load_library().get(args.scenario).scoring_context()
    engines = Engines.load(args.model) if args.json else _engines(args)
    baseline = _baseline(args.baseline, engines)
    analysis = analyze_answer(clip, engines, context, baseline)
    if args.json:
        print_json({"file": str(args.file), "scenario": args.scenario, **analysis.to_dict()})
    else:
        print_analysis(analysis)
    return 0


def score(args: argparse.Namespace) -> int:
    from analysis.content import score_content, typed_transcript
    from analysis.offer_fit import judge_offers
    from analysis.semantic import load_encoder

    scenario = load_library().get(args.scenario)
    rubric = load_rubric()
    if args.text is not None:
        texts = [args.text]
    else:
        try:
            lines = args.texts.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read answers from {args.texts}: {exc}") from None
        texts = [t.strip() for t in lines if t.strip()]
    # Loaded once for every answer in the file (None: patterns only).
    encoder = None if args.no_semantic else load_encoder()
    context = scenario.scoring_context()
    results = []
    for text in texts:
        transcript = typed_transcript(text)
        content, offers = judge_offers(
            transcript, score_content(transcript, rubric, context, encoder=encoder), context, encoder=encoder
        )
        results.append({"text": text, "content": content.to_dict(), "offers": [o.to_dict() for o in offers]})
    if args.json:
        print_json(results[0] if args.text is not None else results)
    else:
        for r in results:
            hits = [f["id"] for f in r["content"]["items"] if f["hit"]]
            bad = [f["id"] for f in r["content"]["penalties"] if f["hit"]]
            print(f"{r['content']['score']:>3}/100  +{','.join(hits) or '-'}  !{','.join(bad) or '-'}  {r['text']}")
    return 0


def scenarios(args: argparse.Namespace) -> int:
    if args.action == "list":
        library = load_library()
        if args.json:
            print_json(
                [
                    {
                        "id": s.id,
                        "title": s.title,
                        "setting": s.setting,
                        "difficulty": s.difficulty,
                        "anger": s.persona.anger,
                        "safety": s.safety,
                        "source": list(s.source),
                        "focus": list(s.focus),
                        "path": s.path,
                    }
                    for s in library.sorted()
                ]
            )
        else:
            for s in library.sorted():
                safety = "  [safety]" if s.safety else ""
                print(f"{s.id:<24} {s.setting:<13} {'*' * s.difficulty:<3} anger {s.persona.anger}  {s.title}{safety}")
        for problem in library.problems:
            print(f"skipped: {problem}", file=sys.stderr)
        return 0
    rubric = load_rubric()
    if args.dir is not None:
        good, problems = validate_folder(args.dir, rubric)
    else:
        library = load_library(rubric=rubric)
        good, problems = list(library.scenarios.values()), list(library.problems)
    for problem in problems:
        print(problem)
    print(f"{len(good)} valid, {len({p.file for p in problems})} with problems", file=sys.stderr)
    return 1 if problems else 0


# --- Web kiosk, history and trainer commands (issue 7) ---


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _settings(**overrides):
    from kiosk.settings import load_settings

    return load_settings(**overrides)


def _store(settings):
    from kiosk.store import Store

    return Store.open(settings.database_url)


def serve(args: argparse.Namespace) -> int:
    settings = _settings(
        record_mode="server" if args.server_mic else None,
        input_device=args.input_device,
        noisy_store=args.noisy_store,
        push_to_talk=args.push_to_talk,
        tts_engine=args.tts_engine,
    )
    if not _loopback(args.host):
        print(
            f"warning: serving on {args.host}: anyone on this network can open the kiosk. Trainer pages "
            "need the PIN; audio and transcripts stay on this machine. Browsers only allow the microphone "
            "on http://localhost or HTTPS, so other devices need --server-mic (this machine records).",
            file=sys.stderr,
        )
    if settings.record_mode == "server":
        require("input", _device(settings.input_device or None))
    store = _store(settings)
    if settings.retention_days:
        store.purge(settings.retention_days)
    from kiosk.web.state import Kiosk

    kiosk = Kiosk(settings, store)
    kiosk.load_in_background(args.model)  # the model loads while the web framework imports
    import uvicorn

    from kiosk.web.app import create_app

    where = "localhost" if _loopback(args.host) else args.host
    print(
        f"Kiosk on http://{where}:{args.port}/ (trainer pages: /trainer); data in {settings.data_dir}. "
        "Ctrl+C stops it.",
        file=sys.stderr,
    )
    uvicorn.run(create_app(kiosk, args.model), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def report(args: argparse.Namespace) -> int:
    from kiosk.history import load_history, slug, write_history

    settings = _settings()
    history = load_history(_store(settings), args.trainee, last=args.last)
    out_dir = args.out or default_out(f"report-{slug(history.trainee.name)}")
    html, md = write_history(history, out_dir)
    print(
        f"Report on {history.trainee.name} ({len(history.summaries)} sessions) written to "
        f"{out_dir}/ ({html.name}, {md.name})"
    )
    return 0


def trainees(args: argparse.Namespace) -> int:
    rows = _store(_settings()).roster()
    if args.json:
        print_json(
            [
                {
                    "name": r.trainee.name,
                    "sessions": r.sessions,
                    "mean_score": r.mean_score,
                    "last_practice": r.last_practice_at.isoformat() if r.last_practice_at else None,
                    "calibrated": r.trainee.baseline is not None,
                }
                for r in rows
            ]
        )
        return 0
    for r in rows:
        last = f"{r.last_practice_at:%Y-%m-%d}" if r.last_practice_at else "never"
        mean = "–" if r.mean_score is None else f"{r.mean_score:.0f}"
        print(f"{r.trainee.name:<30} {r.sessions:>3} sessions  mean {mean:>3}  last {last}")
    if not rows:
        print("Nobody has practised yet.")
    return 0


def purge(args: argparse.Namespace) -> int:
    settings = _settings()
    days = settings.retention_days if args.days is None else args.days
    if days <= 0:
        print("Retention is off (retention_days = 0): nothing purged. Give --days N to purge anyway.")
        return 0
    done = _store(settings).purge(days)
    print(
        f"Purged {done.sessions} sessions, {done.trainees} trainees and {done.audio_files} recordings "
        f"older than {days} days."
    )
    return 0


def set_pin(args: argparse.Namespace) -> int:
    import getpass

    from kiosk.settings import settings_path, write_setting
    from kiosk.errors import PinError
    from kiosk.web.auth import check_pin_format, hash_pin

    if args.stdin:
        pin = check_pin_format(sys.stdin.readline())
    else:
        pin = check_pin_format(getpass.getpass("New trainer PIN (4-12 digits): "))
        if getpass.getpass("Once more: ").strip() != pin:
            raise PinError("the two PINs differ")
    path = write_setting(settings_path(), "trainer_pin_hash", hash_pin(pin))
    print(f"Trainer PIN saved (hashed) in {path}; restart `kiosk serve` to use it.")
    return 0
