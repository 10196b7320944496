"""Write a small practice history with this checkout's kiosk.store: the fixture an upgrade test opens.

    PYTHONPATH=. python scripts/store_fixture.py tests/data/store/store_v1.db

Run once with the release whose schema the fixture must hold (tests/data/store/README.md says
which), then keep the file as it is: run again on a later kiosk, this writes that kiosk's schema.
Three trainees (one without a baseline, one with a name outside ASCII), two rounds' worth of
sessions, finished, interrupted and in a workshop round, turns with and without a kept recording.
"""

from __future__ import annotations

import sys
from pathlib import Path

from analysis.delivery import Baseline
from kiosk.store import Store


def turn(index: int, customer: str, said: str, score: int, before: int, after: int, wpm: float) -> dict:
    """A judged turn as the session engine stores it (the fields the store reads, and some it keeps)."""
    return {
        "index": index,
        "customer": {"text": customer, "kind": "complaint"},
        "transcript": {"text": said, "words": []},
        "content": {"score": score, "items": []},
        "delivery": {"wpm": wpm, "speak_slowly": {"status": "pass"}},
        "reaction": {"anger_before": before, "anger_after": after},
    }


def main(path: Path) -> None:
    if path.exists():
        sys.exit(f"{path} exists: the fixture is kept as it was made")
    store = Store.open(f"sqlite:///{path}")
    ana, _ = store.find_or_create_trainee("Ana López", keep_audio=True)
    store.set_baseline(ana.id, Baseline(median_f0_hz=196.5, level_db=-23.4, wpm=138.0, spectral_balance_db=-6.2))
    badge, _ = store.find_or_create_trainee("10442")
    store.set_baseline(badge.id, Baseline(median_f0_hz=112.0, level_db=-19.8, wpm=151.5, spectral_balance_db=-4.9))
    sam, _ = store.find_or_create_trainee("Sam")
    first = store.start_session(
        ana.id,
        "late-delivery",
        "The parcel that never came",
        baseline=store.trainee(ana.id).baseline,
        first_turn=turn(0, "Where is my parcel?", "I'm sorry, let me check.", 60, 3, 2, 131.0),
        audio_path="/var/lib/kiosk/recordings/1-0.webm",
    )
    store.add_turn(
        first,
        turn(1, "It was due Monday.", "I can send a new one today.", 80, 2, 1, 127.5),
        audio_path="/var/lib/kiosk/recordings/1-1.webm",
    )
    store.finish_session(
        first,
        {
            "ending": "resolved",
            "score": 70,
            "anger_curve": [3, 2, 1],
            "tips": [{"id": "speak_slowly", "text": "Keep that pace."}],
        },
    )
    round_id = store.create_round("faulty-kettle", "The kettle that leaks")
    second = store.start_session(
        badge.id,
        "faulty-kettle",
        "The kettle that leaks",
        round_id=round_id,
        baseline=store.trainee(badge.id).baseline,
        first_turn=turn(0, "It leaks!", "Calm down.", 10, 2, 3, 176.0),
    )
    store.finish_session(second, {"ending": "walked_out", "score": 10, "anger_curve": [2, 3, 4], "tips": []})
    third = store.start_session(
        sam.id,
        "no-receipt-return",
        "No receipt",
        first_turn=turn(0, "I lost the receipt.", "Let me see what I can do.", 55, 2, 2, 142.0),
    )
    store.add_turn(third, turn(1, "So?", "We can offer an exchange.", 65, 2, 1, 139.0))
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
