"""The transparent layer: each item's regular expressions over the normalised tokens, never
across a sentence end, with ``unless`` patterns cancelling the matches they overlap (negation,
sarcasm: "I'm not blaming you", "sorry you feel that way")."""

from __future__ import annotations

import re

from analysis.content.rubric import RubricItem
from analysis.content.text import Tokens, token_index

Span = tuple[int, int]
"""(first, last) token indices."""


def matches(pattern: str, tokens: Tokens, within_sentence: bool = False, within_clause: bool = False) -> list[Span]:
    """(first, last) token indices of each match of ``pattern`` on whole words (``within_clause``:
    its spaces do not reach past a comma)."""
    out = []
    for m in re.finditer(rf"\b(?:{pattern})\b", tokens.clause_text if within_clause else tokens.text, re.M):
        if m.end() > m.start():
            span = (token_index(tokens, m.start()), token_index(tokens, m.end() - 1))
            if within_sentence and any(i in tokens.sentence_ends for i in range(span[0], span[1])):
                continue
            out.append(span)
    return out


def cancelled(item: RubricItem, denials: tuple[str, ...], tokens: Tokens) -> list[Span]:
    """The spans where no matcher may earn the item: its ``unless`` matches, and the matches of
    ``denials`` (the rubric's, for a penalty), which reach no further than their clause."""
    return [span for pat in item.unless for span in matches(pat, tokens)] + [
        span for pat in denials for span in matches(pat, tokens, within_clause=True)
    ]


def pattern_spans(item: RubricItem, denials: tuple[str, ...], tokens: Tokens) -> list[tuple[str, Span]]:
    """(pattern, token span) of each match of the item's patterns not cancelled (``cancelled``)."""
    if not tokens.text:
        return []
    cancels = cancelled(item, denials, tokens)
    found, seen = [], set()
    for pat in item.patterns:
        for span in matches(pat, tokens, within_sentence=True):
            if any(span[0] <= c[1] and c[0] <= span[1] for c in cancels) or span in seen:
                continue
            seen.add(span)
            found.append((pat, span))
    return found
