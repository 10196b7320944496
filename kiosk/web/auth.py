"""Trainer access: the PIN (salted scrypt), a limit on wrong guesses, sessions and CSRF tokens.

A trainer PIN is short (digits on a touch keypad), so the hash alone cannot protect it from
someone at the kiosk trying every code: wrong attempts are limited per client and overall, and
the hash is slow (scrypt, about 60 ms on this machine) so a copied settings file is expensive
to brute-force. Plain Python, no web framework: `kiosk set-pin` uses it too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from kiosk.errors import PinError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""16 MB of memory per guess; 55-60 ms per hash measured on this 2-core machine."""
PIN_DIGITS = (4, 12)
MAX_FAILURES = 5
"""Wrong PINs allowed per client within FAILURE_WINDOW_S (and 4x that from everyone together)."""
FAILURE_WINDOW_S = 300.0
SESSION_IDLE_S = 20 * 60.0
"""A trainer session left alone this long ends (a trainer walking away from a shared kiosk)."""


def check_pin_format(pin: str) -> str:
    pin = pin.strip()
    if not pin.isdigit() or not PIN_DIGITS[0] <= len(pin) <= PIN_DIGITS[1]:
        raise PinError(f"the trainer PIN must be {PIN_DIGITS[0]} to {PIN_DIGITS[1]} digits")
    return pin


def hash_pin(pin: str) -> str:
    pin = check_pin_format(pin)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """Constant-time check of a PIN against a hash written by ``hash_pin``."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            pin.strip().encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(bytes.fromhex(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


class Throttle:
    """Counts failures in a sliding window, per key and in total; refuses once over the limit."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S, clock=time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window_s:
            q.popleft()

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when it may try now)."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            for q, limit in ((self._failures.get(key, deque()), self.limit), (self._all, 4 * self.limit)):
                self._trim(q, now)
                if len(q) >= limit:
                    waits.append(q[len(q) - limit] + self.window_s - now)
            return max(waits)

    def fail(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            self._failures.setdefault(key, deque()).append(now)
            self._all.append(now)

    def succeed(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


@dataclass
class TrainerSession:
    csrf: str
    last_used: float


class TrainerSessions:
    """Logged-in trainers, by an unguessable cookie value; each with its own CSRF token."""

    def __init__(self, idle_s: float = SESSION_IDLE_S, clock=time.monotonic) -> None:
        self.idle_s, self.clock = idle_s, clock
        self._sessions: dict[str, TrainerSession] = {}
        self._lock = threading.Lock()

    def create(self) -> tuple[str, TrainerSession]:
        token = secrets.token_urlsafe(32)
        session = TrainerSession(secrets.token_urlsafe(32), self.clock())
        with self._lock:
            self._sessions[token] = session
        return token, session

    def get(self, token: str | None) -> TrainerSession | None:
        """The live session for a cookie value (its idle clock restarted), or None."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            for key in [k for k, s in self._sessions.items() if now - s.last_used > self.idle_s]:
                del self._sessions[key]
            session = self._sessions.get(token)
            if session is not None:
                session.last_used = now
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)


def csrf_ok(session: TrainerSession, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf, sent)
