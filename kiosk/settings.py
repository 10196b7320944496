"""Where the kiosk keeps its data and how it behaves: defaults, a TOML file, then env variables.

A store kiosk is set up once by someone with a keyboard and then runs untouched, so every
setting has a safe default (data on this machine, raw audio *not* kept, a local SQLite file)
and a bad value stops the kiosk at start with one line naming the setting and the fix, rather
than failing later in front of a trainee.

Order (later wins): built-in defaults, the settings file (``KIOSK_SETTINGS``, else
``DATA_DIR/settings.toml``), ``KIOSK_*`` environment variables, command-line flags.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from kiosk.errors import SettingsError

ENV_PREFIX = "KIOSK_"
TTS_ENGINES = ("espeak", "piper")
"""audio.tts.ENGINES, named here so reading the settings does not load the speech engines."""
RECORD_MODES = ("browser", "server")
"""browser: the page records with getUserMedia and uploads; server: this machine's own
microphone (a headset plugged into the kiosk) records through sounddevice."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "kiosk"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    """The database (SQLite), opted-in recordings and reports live here."""
    db_url: str = ""
    """SQLAlchemy URL; empty means the SQLite file DATA_DIR/kiosk.db. A chain of stores points
    every kiosk at one PostgreSQL database (postgresql://user@host/db)."""
    retention_days: int = 365
    """Practice sessions older than this are purged (0 keeps everything)."""
    trainer_pin_hash: str = ""
    """Salted scrypt hash of the trainer PIN (`kiosk set-pin` writes it); empty disables trainer mode."""
    idle_timeout_s: float = 90.0
    """With no touch for this long the kiosk returns to the start screen and forgets who was there."""
    keep_audio_default: bool = False
    """Whether the "keep my recordings" box starts ticked. Off: raw audio is opt-in."""
    max_upload_mb: float = 20.0
    """Largest recorded answer accepted (90 s of 48 kHz WAV is about 8 MB; WebM/Opus far less)."""
    record_mode: str = "browser"
    noisy_store: bool = False
    """A loud shop floor: an answer starts and continues only on a voice clearly above the room
    (background chatter is not taken for the trainee). See audio.vad.EndpointConfig.for_room."""
    push_to_talk: bool = False
    """The answer ends only when the trainee taps "I've finished" (or at the length cap), never on
    a pause: for the loudest places, where no automatic end of speech can be trusted."""
    tts_engine: str = "espeak"
    """The customer's voice: "espeak" (espeak-ng) or "piper" (the neural voice for the personas
    it can play). espeak by default: the neural voice's licence does not clearly allow use in a
    store (docs/voices.md), so a store opts in knowingly."""
    input_device: str = ""
    """Microphone for record_mode = "server" (index or name, see `kiosk devices`); empty: default."""
    settings_file: Path | None = None
    """The file these settings were read from, if any (`kiosk set-pin` writes there)."""

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'kiosk.db'}"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def trainer_enabled(self) -> bool:
        return bool(self.trainer_pin_hash)


_NAMES = {f.name for f in fields(Settings)} - {"settings_file"}


def _coerce(name: str, value: object, origin: str) -> object:
    """Turn a TOML or environment value into the field's type, or say what is wrong."""

    def bad(what: str) -> SettingsError:
        return SettingsError(f"{origin}: {name} must be {what} (got {value!r})")

    if name == "data_dir":
        if not isinstance(value, str) or not value.strip():
            raise bad("a folder path")
        return Path(value).expanduser()
    if name in ("retention_days",):
        try:
            number = int(value) if not isinstance(value, bool) else -1
        except (TypeError, ValueError):
            raise bad("a whole number of days, 0 or more") from None
        if number < 0 or (isinstance(value, float) and value != number):
            raise bad("a whole number of days, 0 or more")
        return number
    if name in ("idle_timeout_s", "max_upload_mb"):
        try:
            number = float(value) if not isinstance(value, bool) else -1.0
        except (TypeError, ValueError):
            raise bad("a positive number") from None
        if not number > 0:
            raise bad("a positive number")
        return number
    if name in ("keep_audio_default", "noisy_store", "push_to_talk"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise bad("true or false")
    if name == "record_mode":
        if value not in RECORD_MODES:
            raise bad(" or ".join(repr(m) for m in RECORD_MODES))
        return value
    if name == "tts_engine":
        if value not in TTS_ENGINES:
            raise bad(" or ".join(repr(e) for e in TTS_ENGINES))
        return value
    if name == "trainer_pin_hash":
        if not isinstance(value, str) or (value and not value.startswith("scrypt$")):
            raise bad("a hash written by `kiosk set-pin`")
        return value
    if not isinstance(value, str):
        raise bad("text")
    return value.strip()


def settings_path(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get(ENV_PREFIX + "SETTINGS")
    if explicit:
        return Path(explicit).expanduser()
    data_dir = env.get(ENV_PREFIX + "DATA_DIR")
    return (Path(data_dir).expanduser() if data_dir else default_data_dir()) / "settings.toml"


def load_settings(env: dict[str, str] | None = None, **overrides: object) -> Settings:
    """The kiosk's settings; ``overrides`` (command-line flags) win over everything else."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    path = settings_path(env)
    found: Path | None = None
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: not a readable TOML settings file ({exc})") from exc
        for key, value in data.items():
            if key not in _NAMES:
                raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(_NAMES))})")
            values[key] = _coerce(key, value, str(path))
        found = path
    elif ENV_PREFIX + "SETTINGS" in env:
        raise SettingsError(f"{path}: settings file not found ({ENV_PREFIX}SETTINGS points there)")
    for name in _NAMES:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw, f"{ENV_PREFIX}{name.upper()}")
    for name, value in overrides.items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    data_dir = values.pop("data_dir", None) or default_data_dir()
    return Settings(data_dir=Path(data_dir), settings_file=found, **values)


def write_setting(path: Path, name: str, value: str) -> Path:
    """Set one top-level text setting in a settings file, keeping every other line as it was."""
    if name not in _NAMES:
        raise SettingsError(f"unknown setting {name!r}")
    line = f'{name} = "{value}"'
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    pattern = re.compile(rf"^{re.escape(name)}\s*=.*$", re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(line, text, count=1)
    else:
        # Top-level keys must come before any [table]: put the new one first.
        text = f"{line}\n{text}"
    try:
        tomllib.loads(text)  # never write a file the next start cannot read
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: cannot update it, it is not valid TOML ({exc})") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o600)  # the PIN hash is not for every user of the machine
    os.replace(tmp, path)
    return path
