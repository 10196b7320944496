"""The browser's answer, last word to the customer's reaction audible: `python -m bench.web_latency`.

`kiosk serve` as a user starts it, and Debian's Chromium driven by Playwright with its fake
microphone playing a WAV file (``--use-file-for-fake-audio-capture``, once per recording): one
second of silence, the 10 or 30 s answer of bench/mix.py (real read speech), then silence. The
page streams it (AudioWorklet frames over the WebSocket), the server endpoints and transcribes
it as it arrives, and the reaction line plays. Per run, on the page's clock:

- the last word: where the capture clock says the file's speech ended (the first audio frame's
  time, plus where the server heard the speech start, plus the answer's length);
- ``ended``: the server's message that the answer is over (endpointing wait);
- ``turn``: the judged turn arrived (transcript tail, analysis, reaction, stored);
- ``audible``: the reaction line's ``playing`` event (the audio element started output).

Merges ``web_last_word_to_reaction_p50_s`` / ``_p90_s`` (and the parts) into each answer
length's entry of bench/results/latency.json, with the machine's load when measured.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.run import RESULTS, ROOT, SCENARIO, _pct

CHROMIUM = Path("/usr/bin/chromium")
LEAD_S = 1.0

INIT_SCRIPT = """
window.__timings = [];
window.__playing = [];
window.addEventListener("kiosk:answer-timing", (e) => window.__timings.push(e.detail));
document.addEventListener("playing", (e) => window.__playing.push({ t: performance.now(), src: e.target.currentSrc }), true);
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(data: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "serve", "--port", str(port)],
        env={**os.environ, "KIOSK_DATA_DIR": str(data)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("kiosk serve did not become ready in 120 s")


def one_answer(browser, base: str, answer_s: float) -> dict:
    """One trainee, one answer: the page's timings in seconds."""
    # bypass_csp: the page forbids eval, which Playwright's wait_for_function needs; the
    # browser tests (tests/test_web_browser.py) run the same streaming under the real policy.
    page = browser.new_page(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    try:
        page.add_init_script(INIT_SCRIPT)
        page.goto(base)
        page.click("#btn-begin:not([disabled])")
        page.keyboard.type("Bench")
        page.click("#btn-name-ok")
        page.wait_for_selector("body[data-state=calibrate], body[data-state=scenarios]", state="attached")
        if page.get_attribute("body", "data-state") == "calibrate":
            page.click("#btn-skip-calibration")
        page.click(f".scenario-card[data-scenario='{SCENARIO}']")
        page.wait_for_selector("body[data-state=your-turn]", state="attached", timeout=60_000)
        page.click("#btn-record")
        page.wait_for_function(
            "window.__timings.length && window.__playing.some((p) => p.src.includes('/lines/1.wav'))",
            timeout=(answer_s + 60) * 1000,
        )
        timing = page.evaluate("window.__timings[0]")
        audible = page.evaluate("window.__playing.find((p) => p.src.includes('/lines/1.wav')).t")
        last_word = timing["captureStartedAt"] + (timing["speech_start_s"] + answer_s) * 1000
        return {
            "to_reaction_s": (audible - last_word) / 1000,
            "endpoint_s": (timing["endedAt"] - last_word) / 1000,
            "judge_s": (timing["turnAt"] - timing["endedAt"]) / 1000,
            "play_s": (audible - timing["turnAt"]) / 1000,
            "heard_end_error_s": timing["speech_end_s"] - timing["speech_start_s"] - answer_s,
        }
    finally:
        page.close()


def measure(lengths: tuple[int, ...], runs: int) -> dict[int, dict]:
    from playwright.sync_api import sync_playwright

    from audio.clip import Clip, save_wav
    from bench.mix import mixed_answer

    rows = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        port = _free_port()
        server = _serve(Path(tmp) / "data", port)
        try:
            for length in lengths:
                mix = mixed_answer(length)
                wav = save_wav(
                    Clip.silence(LEAD_S).concat(mix.clip.resampled(16000), Clip.silence(10.0)),
                    Path(tmp) / f"answer-{length}.wav",
                )
                browser = p.chromium.launch(
                    executable_path=str(CHROMIUM),
                    args=[
                        "--no-sandbox",
                        "--use-fake-ui-for-media-stream",
                        "--use-fake-device-for-media-stream",
                        f"--use-file-for-fake-audio-capture={wav}%noloop",
                        "--autoplay-policy=no-user-gesture-required",
                    ],
                )
                try:
                    one_answer(browser, f"http://127.0.0.1:{port}", mix.clip.duration_s)  # warm: first page load
                    runs_out = []
                    for _ in range(runs):
                        runs_out.append(one_answer(browser, f"http://127.0.0.1:{port}", mix.clip.duration_s))
                        print(
                            json.dumps({"length_s": length, **{k: round(v, 3) for k, v in runs_out[-1].items()}}),
                            file=sys.stderr,
                            flush=True,
                        )
                finally:
                    browser.close()
                total = [r["to_reaction_s"] for r in runs_out]
                rows[length] = {
                    "web_runs": runs,
                    "web_last_word_to_reaction_p50_s": round(statistics.median(total), 3),
                    "web_last_word_to_reaction_p90_s": round(_pct(total, 0.9), 3),
                    "web_endpoint_wait_p50_s": round(statistics.median(r["endpoint_s"] for r in runs_out), 3),
                    "web_judge_p50_s": round(statistics.median(r["judge_s"] for r in runs_out), 3),
                    "web_play_start_p50_s": round(statistics.median(r["play_s"] for r in runs_out), 3),
                    "web_load_avg_1m": round(os.getloadavg()[0], 2),
                }
        finally:
            server.terminate()
            server.wait(timeout=20)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not CHROMIUM.exists():
        print("Debian's chromium is not installed (`make test` installs it)", file=sys.stderr)
        return 1
    rows = measure(tuple(args.lengths), args.runs)
    result = json.loads(args.out.read_text()) if args.out.exists() else {"answers": []}
    for entry in result["answers"]:
        web = rows.get(round(entry["length_s"] / 10) * 10)
        if web:
            entry.update(web)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
