"""What scoring one answer returns: a finding per item, each with the words as evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Evidence:
    quote: str
    """The trainee's words, as transcribed."""
    start_s: float
    end_s: float
    matched: str
    """The pattern or example the words matched."""


@dataclass(frozen=True)
class Finding:
    id: str
    hit: bool
    points: float
    """Points earned (items, 0 when missed) or deducted (penalties, negative when hit)."""
    max_points: float
    """What the item is worth here (penalties: the deduction if hit)."""
    source: str
    description: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class ContentResult:
    score: int
    """0-100."""
    items: tuple[Finding, ...]
    penalties: tuple[Finding, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    def finding(self, item_id: str) -> Finding | None:
        for f in (*self.items, *self.penalties):
            if f.id == item_id:
                return f
        return None
