"""Errors of the settings, the store and trainer mode that end as one line at the command line.

Kept apart from the modules that raise them so `kiosk` can catch them without importing
SQLAlchemy for every command (0.4 s on this machine).
"""


class SettingsError(Exception):
    """A setting that cannot be used. One line naming the setting, where it came from, the fix."""


class StoreError(Exception):
    """The database cannot be used. One line naming the database (never its password) and the fix."""


class StoreUnavailable(StoreError):
    """A write or read that could not reach the disk (database locked by another program, disk
    full); the transaction was rolled back, so nothing stored before is lost. Retrying later works."""


class UnknownTrainee(KeyError):
    def __str__(self) -> str:
        return f"no trainee called {self.args[0]!r} (see `kiosk trainees` for names and badge numbers)"


class PinError(ValueError):
    """A trainer PIN that cannot be used; one sentence."""
