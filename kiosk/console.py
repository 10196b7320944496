"""Terminal output shared by the commands: progress lines, JSON, and a turn printed for people."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from analysis.scorecard import Goal, Scorecard, TurnCard
from analysis.turn import TurnAnalysis
from kiosk import plain
from scenarios.guide import load_guide


class UsageError(Exception):
    """Wrong arguments that argparse cannot catch (e.g. conflicting options)."""


def default_out(prefix: str) -> Path:
    return Path("kiosk-output") / f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}"


def step(message: str, func: Callable, *args, stream: TextIO = sys.stderr, **kwargs):
    """Run ``func`` behind a one-line progress message on stderr, with the time it took."""
    print(f"{message}…", end="", file=stream, flush=True)
    t0 = time.monotonic()
    try:
        result = func(*args, **kwargs)
    except BaseException:
        print(" failed", file=stream, flush=True)
        raise
    print(f" done ({time.monotonic() - t0:.1f} s)", file=stream, flush=True)
    return result


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _num(value: float, unit: str, nd: int = 0) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{nd}f}{unit}"


def print_card(card: TurnCard, goals: tuple[Goal, ...], out: TextIO = sys.stdout) -> None:
    """One answer's part in the conversation: what it added, what it broke, what is still missing."""
    names = {g.id: g.name for g in goals}
    print("\nWhat this answer did for the conversation:", file=out)
    for credit in card.added:
        print(f"  + {plain.item_name(credit.id)}: \u201c{credit.quote}\u201d", file=out)
    for hit in card.broke:
        what = plain.item_name(hit.id)
        print(f"  - {what} (-{hit.points:g} points): \u201c{hit.quote}\u201d", file=out)
    if not card.added and not card.broke:
        print("  nothing new", file=out)
    for goal_id in card.still_missing:
        print(f"  still to do: {names[goal_id].removeprefix('You ')}", file=out)


def print_scorecard(card: Scorecard, out: TextIO = sys.stdout) -> None:
    """The conversation's goals, each with the answer and words that met it."""
    for g in card.goals:
        if not g.called_for:
            continue
        if g.met:
            print(
                f"  \u2713 {g.name} (answer {g.turn + 1}: \u201c{g.quote}\u201d) {g.points:g}/{g.max_points:g}",
                file=out,
            )
        else:
            print(f"  \u2717 {g.name.replace('You ', 'You never ', 1)} 0/{g.max_points:g}", file=out)
    for p in card.penalties:
        what = plain.item_name(p.id)
        print(f"  - {what} (answer {p.turn + 1}: \u201c{p.quote}\u201d) -{p.points:g}", file=out)


def print_delivery_in_words(a: TurnAnalysis, out: TextIO = sys.stdout) -> None:
    """How the answer was said, as a trainee reads it: words first, numbers second."""
    d = a.delivery.to_dict()
    print(f"\nYou said: {a.transcript.text}", file=out)
    print("\nHow you said it:", file=out)
    print(f"  Pace: {plain.pace(d)}", file=out)
    print(f"  Voice: {plain.voice(d)}", file=out)
    mirroring = a.delivery.mirroring
    if mirroring is not None and mirroring.status == "needs_work":
        print("  You raised your voice as the customer raised theirs.", file=out)
    print(f"  Pauses: {plain.pauses(d)}; fillers: {', '.join(a.delivery.fillers) or 'none'}", file=out)


def print_analysis(a: TurnAnalysis, out: TextIO = sys.stdout) -> None:
    d = a.delivery
    print(f"\nYou said: {a.transcript.text}", file=out)
    print("\nHow you said it:", file=out)
    print(
        f"  pace {_num(d.wpm, ' words/min')}, pitch {_num(d.median_f0_hz, ' Hz')}, "
        f"level {_num(d.level_db, ' dBFS', 1)}, {d.pause_count} pauses, "
        f"fillers: {', '.join(d.fillers) or 'none'}",
        file=out,
    )
    if d.trend:
        print(f"  toward the end you {' and '.join(t.replace('_', ' ') for t in d.trend)}", file=out)
    for v in (d.speak_slowly, d.lower_voice, d.mirroring):
        if v is not None:
            print(f"  {v.id.replace('_', ' ')}: {v.status.replace('_', ' ')} ({v.detail})", file=out)
    print(f"\nWhat you said: {a.content.score}/100", file=out)
    guide = load_guide()
    for f in a.content.items:
        quote = f' "{f.evidence[0].quote}"' if f.evidence else ""
        print(
            f"  {'+' if f.hit else '-'} {f.id:<20} {f.points:>5.1f}/{f.max_points:<5.1f} "
            f"{guide.citation(f.source)}{quote}",
            file=out,
        )
    for f in a.content.penalties:
        if f.hit:
            print(f'  ! {f.id:<20} {f.points:>5.1f}       {guide.citation(f.source)} "{f.evidence[0].quote}"', file=out)
