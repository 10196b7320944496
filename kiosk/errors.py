"""Errors of the settings, the store and trainer mode that end as one line at the command line.

Kept apart from the modules that raise them so `kiosk` can catch them without importing
SQLAlchemy for every command (0.4 s on this machine).
"""


class SettingsError(Exception):
    """A setting that cannot be used. One line naming the setting, where it came from, the fix."""


class StoreError(Exception):
    """The database cannot be used. One line naming the database (never its password) and the fix."""


class UnknownTrainee(KeyError):
    def __str__(self) -> str:
        return f"no trainee called {self.args[0]!r} (see `kiosk trainees` for names and badge numbers)"


class PinError(ValueError):
    """A trainer PIN that cannot be used; one sentence."""
