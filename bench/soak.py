"""A long day at the kiosk: complete practice sessions through the HTTP API of a real `kiosk serve`.

Not part of the test run (it takes a long while). It starts the server in a subprocess with a
fresh data folder, waits for the model, then runs N sessions the way the page does (name, a
scenario, answers until the customer's story ends or four answers, feedback, goodbye), uploading
real speech: a handful of answers synthesized once with espeak-ng and reused, so the run measures
the kiosk and not the synthesizer. It samples the server's resident memory and open file handles
and finally opens the store to check every session was stored with its ending.

Memory is compared after a warm-up (the first sessions fill caches: TTS lines, Whisper's buffers,
Praat), because a kiosk pays that once per day, not per trainee.

    python bench/soak.py --sessions 300 --out soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ANSWERS = [
    "I'm so sorry, that is really frustrating. Let me check that for you right now. I can book the first "
    "slot tomorrow, or refund the charge.",
    "I understand, and I apologise. Here is what I can do: I will call the depot now and ring you back "
    "within the hour.",
    "That is not our fault, you should have read the terms.",
    "Okay. Um. I don't know. Maybe try again later.",
    "I hear you, that sounds really stressful. Would a replacement today or a full refund work better for you?",
]
"""Good, bad and hesitant answers, so the customer calms down, walks out or escalates."""
MAX_ANSWERS = 4
KIOSK = {"X-Kiosk": "1"}


def synthesize(folder: Path) -> list[bytes]:
    """Each answer spoken by espeak-ng with a breath of silence around it, as a microphone hears it."""
    from audio.clip import Clip, load, save_wav

    out = []
    for i, text in enumerate(ANSWERS):
        raw = folder / f"raw{i}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us+m3", "-s", "150", "-p", "40", "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        clip = Clip.silence(0.4).concat(load(raw), Clip.silence(1.6))
        out.append(save_wav(clip, folder / f"answer{i}.wav").read_bytes())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(
    base: str, method: str, path: str, body: bytes | None = None, content_type: str | None = None, timeout: float = 120
) -> tuple[int, bytes]:
    headers = dict(KIOSK)
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post_json(base: str, path: str, data: dict) -> tuple[int, dict]:
    status, body = request(base, "POST", path, json.dumps(data).encode(), "application/json")
    return status, json.loads(body or b"{}")


def sample(pid: int) -> dict:
    """Resident memory (MB) and open file descriptors of the server process, from /proc."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return {
        "t_s": round(time.monotonic(), 1),
        "rss_mb": round(rss_kb / 1024, 1),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def one_session(base: str, n: int, answers: list[bytes], scenarios: list[str]) -> dict:
    status, started = post_json(base, "/api/visits", {"name": f"Soak {n % 25:02d}"})
    assert status == 201, started
    token = started["visit"]
    scenario = scenarios[n % len(scenarios)]
    status, practice = post_json(base, f"/api/visits/{token}/practice", {"scenario": scenario})
    assert status == 201, practice
    finished, turns, errors = False, 0, []
    while not finished and turns < MAX_ANSWERS:
        status, body = request(
            base, "POST", f"/api/visits/{token}/answer", answers[(n + turns) % len(answers)], "audio/wav"
        )
        turns += 1
        if status != 200:
            errors.append(f"{status} {body[:200]!r}")
            continue
        finished = json.loads(body)["finished"]
        request(base, "GET", json.loads(body)["line"]["audio_url"])  # the page plays the next line
    status, _ = request(base, "GET", f"/api/visits/{token}/feedback")
    errors += [] if status == 200 else [f"feedback {status}"]
    status, _ = request(base, "DELETE", f"/api/visits/{token}")
    errors += [] if status == 204 else [f"goodbye {status}"]
    return {"scenario": scenario, "answers": turns, "finished": finished, "errors": errors}


def _stop(_signum, _frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument(
        "--warmup",
        type=int,
        default=30,
        help="sessions before the memory reference sample (30: one pass over the 28 scenarios)",
    )
    ap.add_argument("--out", type=Path, help="write the JSON report here too")
    ap.add_argument("--model", help="Whisper model directory (default: the kiosk's resolution)")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="kiosk-soak-"))
    answers = synthesize(work)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KIOSK_DATA_DIR": str(work / "data"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "KIOSK_RETENTION_DAYS": "0",
    }
    cmd = [sys.executable, "-m", "kiosk.cli", "serve", "--port", str(port)]
    if args.model:
        cmd += ["--model", args.model]
    log = open(work / "server.log", "wb")
    server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    samples: list[dict] = []
    results: list[dict] = []
    t0 = time.monotonic()
    try:
        for _ in range(600):
            try:
                if request(base, "GET", "/healthz", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit(f"the server never became ready; see {work / 'server.log'}")
        scenarios = [s["id"] for s in json.loads(request(base, "GET", "/api/config")[1])["scenarios"]]
        samples.append({"session": 0, **sample(server.pid)})
        signal.signal(signal.SIGTERM, _stop)
        try:
            for n in range(1, args.sessions + 1):
                results.append(one_session(base, n, answers, scenarios))
                if n % 5 == 0 or n == args.warmup:
                    samples.append({"session": n, **sample(server.pid)})
                    print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
        except KeyboardInterrupt:  # stopped early (Ctrl+C, SIGTERM): report the sessions run so far
            print(f"stopped after {len(results)} sessions", file=sys.stderr)
            if samples[-1]["session"] != len(results):
                samples.append({"session": len(results), **sample(server.pid)})
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    elapsed = time.monotonic() - t0

    from kiosk.store import Store

    store = Store.open(f"sqlite:///{work / 'data' / 'kiosk.db'}")
    stored = store.sessions()
    from sqlalchemy import func, select

    from kiosk.store_schema import sessions as sessions_table

    with store.engine.connect() as c:
        ended = c.execute(select(func.count()).where(sessions_table.c.finished_at.is_not(None))).scalar()
    store.close()
    judged = [r for r in results if r["answers"] > len(r["errors"])]
    ref = next(s for s in samples if s["session"] >= min(args.warmup, args.sessions))
    last = samples[-1]
    report = {
        "sessions_run": len(results),
        "answers": sum(r["answers"] for r in results),
        "sessions_finished_by_customer": sum(r["finished"] for r in results),
        "sessions_with_errors": sum(bool(r["errors"]) for r in results),
        "errors": [e for r in results for e in r["errors"]][:20],
        "sessions_stored": len(stored),
        "sessions_judged": len(judged),
        "sessions_stored_with_ending": ended,
        "turns_stored": sum(s.turns for s in stored),
        "rss_mb": {
            "start": samples[0]["rss_mb"],
            "after_warmup": ref["rss_mb"],
            "end": last["rss_mb"],
            "max": max(s["rss_mb"] for s in samples),
        },
        "rss_growth_after_warmup_pct": round(100 * (last["rss_mb"] - ref["rss_mb"]) / ref["rss_mb"], 1),
        "fds": {
            "start": samples[0]["fds"],
            "after_warmup": ref["fds"],
            "end": last["fds"],
            "max": max(s["fds"] for s in samples),
        },
        "elapsed_s": round(elapsed, 1),
        "seconds_per_session": round(elapsed / max(1, len(results)), 2),
        "samples": samples,
        "cpu_count": os.cpu_count(),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    report["stopped_early"] = len(results) < args.sessions
    ok = (
        report["sessions_stored"] == len(judged) == ended
        and report["rss_growth_after_warmup_pct"] < 10
        and last["fds"] <= ref["fds"] + 2
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
