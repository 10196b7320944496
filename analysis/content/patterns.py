"""The transparent layer: each item's regular expressions over the normalised tokens, never
across a sentence end, with ``unless`` patterns cancelling the matches they overlap (negation,
sarcasm: "I'm not blaming you", "sorry you feel that way")."""

from __future__ import annotations

import re

from analysis.content.rubric import RubricItem
from analysis.content.text import Tokens, token_index

Span = tuple[int, int]
"""(first, last) token indices."""


def matches(pattern: str, tokens: Tokens, within_sentence: bool = False) -> list[Span]:
    """(first, last) token indices of each match of ``pattern`` on whole words."""
    out = []
    for m in re.finditer(rf"\b(?:{pattern})\b", tokens.text, re.M):
        if m.end() > m.start():
            span = (token_index(tokens, m.start()), token_index(tokens, m.end() - 1))
            if within_sentence and any(i in tokens.sentence_ends for i in range(span[0], span[1])):
                continue
            out.append(span)
    return out


def cancelled(item: RubricItem, tokens: Tokens) -> list[Span]:
    """The spans of the item's ``unless`` matches: no matcher may earn the item over them."""
    return [span for pat in item.unless for span in matches(pat, tokens)]


def pattern_spans(item: RubricItem, tokens: Tokens) -> list[tuple[str, Span]]:
    """(pattern, token span) of each match of the item's patterns not cancelled by an ``unless``."""
    if not tokens.text:
        return []
    cancels = cancelled(item, tokens)
    found, seen = [], set()
    for pat in item.patterns:
        for span in matches(pat, tokens, within_sentence=True):
            if any(span[0] <= c[1] and c[0] <= span[1] for c in cancels) or span in seen:
                continue
            seen.add(span)
            found.append((pat, span))
    return found
