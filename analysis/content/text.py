"""The units the matchers read: normalised tokens for the patterns, sentences and clauses for the
examples and the learned models, and quotes cut back out of the transcript as evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.content.result import Evidence
from audio.asr import Transcript, Word

_TOKEN = re.compile(r"[a-z0-9']+")
_SENTENCE_END = re.compile(r"[.?!;]$")
_CLAUSE_END = re.compile(r"[.?!;:]$")
_CLAUSE_BREAK = re.compile(r",$")
FILLERS = frozenset({"um", "umm", "uh", "uhh", "erm", "er", "ah", "hmm", "mm", "uhm"})
"""Hesitations dropped before matching, so "I'm, um, so sorry" still reads as an apology."""


def typed_transcript(text: str) -> Transcript:
    """A typed answer as a transcript: it has no timing, so every word sits at 0 s."""
    return Transcript(text, tuple(Word(w, 0.0, 0.0, 1.0) for w in text.split()), 0.0)


@dataclass(frozen=True)
class Tokens:
    text: str
    """Normalised tokens joined by single spaces, one sentence per line."""
    starts: tuple[int, ...]
    """Character offset of each token in ``text``."""
    word_of: tuple[int, ...]
    """Index into the transcript's words for each token."""
    sentence_ends: frozenset[int] = frozenset()
    """Tokens that end a sentence: a pattern may not run across a full stop."""
    clause_text: str = ""
    """``text`` with a line break after every clause as well (a comma or colon ends one): the
    same offsets, for patterns whose reach ends with the clause (the rubric's denials)."""

    def words(self, span: tuple[int, int]) -> tuple[int, int]:
        """A token span as (first, last) word indices, the units' coordinates."""
        return self.word_of[span[0]], self.word_of[span[1]]


def tokenize(transcript: Transcript) -> Tokens:
    tokens, word_of, ends, clause_ends = [], [], set(), set()
    for i, word in enumerate(transcript.words):
        for tok in _TOKEN.findall(word.text.lower().replace("\u2019", "'")):
            if tok in FILLERS:
                continue
            tokens.append(tok)
            word_of.append(i)
        if tokens and _SENTENCE_END.search(word.text):
            ends.add(len(tokens) - 1)
        if tokens and (_CLAUSE_END.search(word.text) or _CLAUSE_BREAK.search(word.text)):
            clause_ends.add(len(tokens) - 1)
    starts, pos = [], 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    # Sentences are separate lines: `^` and `$` (re.M) mark a sentence's start and end, and a
    # pattern's spaces never reach into the next sentence.
    text = "".join(tok + ("\n" if i in ends else " ") for i, tok in enumerate(tokens))[:-1]
    clause_text = "".join(tok + ("\n" if i in ends | clause_ends else " ") for i, tok in enumerate(tokens))[:-1]
    return Tokens(text, tuple(starts), tuple(word_of), frozenset(ends), clause_text)


def token_index(tokens: Tokens, char: int) -> int:
    lo = 0
    for i, s in enumerate(tokens.starts):
        if s <= char:
            lo = i
        else:
            break
    return lo


def quote(transcript: Transcript, first: int, last: int, matched: str) -> Evidence:
    """The words ``first``..``last`` (word indices) as evidence, with their timing."""
    words = transcript.words[first : last + 1]
    return Evidence(" ".join(w.text for w in words), words[0].start_s, words[-1].end_s, matched)


_CLAUSE_START = frozenset({"but", "though", "although"})
"""Words that open a new idea inside a sentence ("I can't refund it but I can swap it")."""


WHOLE_SENTENCE_WORDS = 8
"""A sentence up to this long is compared whole as well as clause by clause; a longer one that
splits into clauses only by its clauses (it is near no one-idea example as a whole, and encoding
it twice would double the cost per answer)."""


def segments(transcript: Transcript) -> tuple[tuple[int, int], ...]:
    """(first, last) word indices of the units compared with the examples: sentences, and the
    clauses of sentences that string several ideas together.

    Whisper punctuates its transcripts; a typed answer usually is too. The examples hold one idea
    each, and a sentence like "I'm so sorry, that must have been awful, I'll ring you tomorrow"
    sits between them and near none, so its clauses (split at commas and before "but") are what
    is compared.
    """
    words = transcript.words
    sentences, start = [], 0
    for i, w in enumerate(words):
        if _CLAUSE_END.search(w.text) or i == len(words) - 1:
            sentences.append((start, i))
            start = i + 1
    out = []
    for first, last in sentences:
        clauses, c_start = [], first
        for i in range(first, last + 1):
            opens = i + 1 <= last and words[i + 1].text.lower().strip(",.") in _CLAUSE_START
            if _CLAUSE_BREAK.search(words[i].text) or opens or i == last:
                if i - c_start >= 1:  # a one-word clause ("Okay,") says nothing on its own
                    clauses.append((c_start, i))
                c_start = i + 1
        if len(clauses) < 2 or last - first + 1 <= WHOLE_SENTENCE_WORDS:
            out.append((first, last))
        if len(clauses) >= 2:
            out.extend(clauses)
    return tuple(out)
