"""Kiosk settings (defaults, TOML file, environment, flags), the trainer PIN, and `kiosk serve`'s
refusals: each problem is one line naming the setting and the fix."""

import os
import stat
import subprocess
import sys

import pytest

from conftest import ROOT, run_kiosk
from kiosk.errors import SettingsError
from kiosk.settings import load_settings, write_setting
from kiosk.web.auth import Throttle, TrainerSessions, hash_pin, verify_pin


def test_defaults_are_private_and_local(tmp_path):
    s = load_settings(env={"KIOSK_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'kiosk.db'}"
    assert not s.keep_audio_default and not s.trainer_enabled and s.record_mode == "browser"


def test_file_then_environment_then_flags(tmp_path):
    (tmp_path / "settings.toml").write_text('retention_days = 30\nidle_timeout_s = 45\nrecord_mode = "server"\n')
    env = {"KIOSK_DATA_DIR": str(tmp_path), "KIOSK_IDLE_TIMEOUT_S": "20"}
    s = load_settings(env=env, record_mode="browser")
    assert (s.retention_days, s.idle_timeout_s, s.record_mode) == (30, 20.0, "browser")
    assert s.settings_file == tmp_path / "settings.toml"
    assert (
        load_settings(env={**env, "KIOSK_DB_URL": "postgresql://kiosk@db/kiosk"}).database_url
        == "postgresql://kiosk@db/kiosk"
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ("retention_days = -3", r"settings.toml: retention_days must be a whole number of days"),
        ('record_mode = "mic"', r"record_mode must be 'browser' or 'server'"),
        ("colour = 1", r"unknown setting 'colour'"),
        ("retention_days = ", r"not a readable TOML settings file"),
        ('trainer_pin_hash = "2468"', r"trainer_pin_hash must be a hash written by `kiosk set-pin`"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path, content, message):
    (tmp_path / "settings.toml").write_text(content + "\n")
    with pytest.raises(SettingsError, match=message):
        load_settings(env={"KIOSK_DATA_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match="KIOSK_IDLE_TIMEOUT_S: idle_timeout_s must be a positive number"):
        load_settings(env={"KIOSK_DATA_DIR": str(tmp_path / "x"), "KIOSK_IDLE_TIMEOUT_S": "soon"})


def test_pin_hashes_are_salted_and_checked(tmp_path):
    a, b = hash_pin("2468"), hash_pin("2468")
    assert a != b and verify_pin("2468", a) and verify_pin("2468", b)
    assert not verify_pin("2469", a) and not verify_pin("2468", "scrypt$garbage")
    path = write_setting(tmp_path / "settings.toml", "trainer_pin_hash", a)
    write_setting(path, "idle_timeout_s", "60")
    write_setting(path, "trainer_pin_hash", b)  # replaced in place, others kept
    s = load_settings(env={"KIOSK_DATA_DIR": str(tmp_path)})
    assert s.trainer_pin_hash == b and s.idle_timeout_s == 60.0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_throttle_and_trainer_sessions_expire():
    now = [0.0]
    throttle = Throttle(limit=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        throttle.fail("kiosk")
    assert throttle.wait_s("kiosk") == 60 and throttle.wait_s("laptop") == 0
    now[0] = 61
    assert throttle.wait_s("kiosk") == 0
    sessions = TrainerSessions(idle_s=600, clock=lambda: now[0])
    token, session = sessions.create()
    assert sessions.get(token) is session
    now[0] += 601
    assert sessions.get(token) is None


def test_set_pin_from_the_command_line(tmp_path):
    env = {"KIOSK_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "set-pin", "--stdin"],
        input="13579\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert verify_pin("13579", load_settings(env=env).trainer_pin_hash)
    assert "13579" not in (tmp_path / "settings.toml").read_text()  # only the salted hash is written
    short = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "set-pin", "--stdin"],
        input="12\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
    )
    assert short.returncode == 2 and short.stderr == "error: the trainer PIN must be 4 to 12 digits\n"


def test_serve_warns_on_a_lan_and_refuses_a_bad_database(tmp_path):
    done = run_kiosk(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8999",
        env={"KIOSK_DATA_DIR": str(tmp_path), "KIOSK_DB_URL": "nosuchdb://x"},
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 2, done.stderr
    assert lines[0].startswith("warning: serving on 0.0.0.0: anyone on this network")
    assert lines[1].startswith("error: cannot use the database nosuchdb://x")
    bad = run_kiosk("purge", env={"KIOSK_DATA_DIR": str(tmp_path), "KIOSK_RETENTION_DAYS": "soon"})
    assert bad.returncode == 2 and bad.stderr.startswith("error: KIOSK_RETENTION_DAYS: retention_days must be")
