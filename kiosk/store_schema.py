"""The kiosk's tables (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

Kept apart from kiosk.store so the shape of the data can be read at a glance. This is the shape a
fresh database gets; every change here comes with a step in kiosk.store_migrations that makes the
same change to a database an older kiosk wrote.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAME_MAX = 40

metadata = MetaData()
meta = Table(
    "kiosk_meta", metadata, Column("key", String(40), primary_key=True), Column("value", String(200), nullable=False)
)
trainees = Table(
    "trainees",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(NAME_MAX), nullable=False),
    Column("name_key", String(NAME_MAX), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("baseline", JSON),
    Column("baseline_at", DateTime(timezone=True)),
    Column("keep_audio", Boolean, nullable=False, default=False),
)
rounds = Table(
    "rounds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scenario_id", String(80), nullable=False),
    Column("scenario_title", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trainee_id", ForeignKey("trainees.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("round_id", ForeignKey("rounds.id", ondelete="SET NULL"), index=True),
    Column("scenario_id", String(80), nullable=False, index=True),
    Column("scenario_title", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True), index=True),
    Column("ending", String(20)),
    Column("score", Integer),
    Column("anger_curve", JSON),
    Column("tips", JSON),
    Column("baseline", JSON),
    Column("scorecard", JSON),
)
turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("customer_text", Text, nullable=False),
    Column("transcript", Text, nullable=False),
    Column("score", Integer, nullable=False),
    Column("anger_before", Integer, nullable=False),
    Column("anger_after", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("audio_path", String(500)),
    UniqueConstraint("session_id", "idx"),
)
