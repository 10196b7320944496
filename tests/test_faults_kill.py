"""A real `kiosk serve` killed in the middle of a session (switched off at the wall), and a browser
that goes away in the middle of sending an answer.

The server runs in a subprocess exactly as a kiosk starts it; SIGKILL gives it no chance to tidy
up, like a power cut. On restart the store must open cleanly, every judged turn must be there
and the unfinished session must say it is incomplete.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from kiosk.store import INCOMPLETE, Store

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_on(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on ``port``, from the kernel's own table."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]) if len(address) == 8 else address)
    return found


class Server:
    def __init__(self, data_dir, port: int) -> None:
        env = {**os.environ, "KIOSK_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stdout.read().decode()
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.proc.kill()
        pytest.fail("kiosk serve never became ready")

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"):
        req = urllib.request.Request(
            self.base + path, data=body, method=method, headers={"X-Kiosk": "1", "Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def post(self, path: str, data: dict) -> dict:
        status, body = self.call("POST", path, json.dumps(data).encode())
        assert status in (200, 201), body
        return json.loads(body)

    def abandon_upload(self, path: str, wav: bytes) -> None:
        """Half an answer, then the connection drops: the tab was closed while it was sending."""
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(
                (
                    f"POST {path} HTTP/1.1\r\nHost: localhost\r\nX-Kiosk: 1\r\nContent-Type: audio/wav\r\n"
                    f"Content-Length: {len(wav)}\r\n\r\n"
                ).encode()
                + wav[: len(wav) // 2]
            )

    def stop(self, sig=signal.SIGTERM) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)


def test_a_kiosk_killed_mid_session_restarts_with_every_turn_and_the_session_marked(tmp_path, answer_wav):
    wav = answer_wav.read_bytes()
    server = Server(tmp_path, _port())
    try:
        token = server.post("/api/visits", {"name": "Kim"})["visit"]
        server.post(f"/api/visits/{token}/practice", {"scenario": "late-delivery"})
        server.abandon_upload(f"/api/visits/{token}/answer", wav)
        # The kiosk is still usable by the same visit: the next answer is simply the first turn.
        status, body = server.call("POST", f"/api/visits/{token}/answer", wav, "audio/wav")
        assert status == 200, body
        turn = json.loads(body)
        assert turn["turn"]["index"] == 0 and not turn["finished"]
    finally:
        server.stop(signal.SIGKILL)  # the plug is pulled
    store = Store.open(f"sqlite:///{tmp_path / 'kiosk.db'}")
    [left] = store.sessions()
    assert left.turns == 1 and left.ending is None  # judged turn kept, nothing else written
    store.close()
    server = Server(tmp_path, _port())  # switched on again
    try:
        assert listening_on(server.port) == {"127.0.0.1"}  # not reachable from the shop's network
        assert server.call("GET", "/api/config")[0] == 200
        assert server.post("/api/visits", {"name": "Kim"})["calibrated"] is False
    finally:
        server.stop()
    store = Store.open(f"sqlite:///{tmp_path / 'kiosk.db'}")
    [closed] = store.sessions()
    assert closed.ending == INCOMPLETE and closed.turns == 1
    report = store.session_report(closed.id)
    assert "depot" in report["turns"][0]["transcript"]["text"].lower()
    assert not list((tmp_path / "tmp").glob("answer-*"))  # the abandoned upload left no scratch file
    store.close()
