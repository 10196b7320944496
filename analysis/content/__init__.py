"""What the answer said: rubric items found in the transcript, each with the words as evidence.

One job per module: ``rubric`` (the rubric's shape, the scenario's context), ``result`` (what a
score returns), ``text`` (tokens, sentences and clauses), ``patterns`` (the transparent
regular expressions), ``neighbours`` (nearest examples), ``features`` (what the learned layer
reads) and ``scoring`` (all of them joined into points). The names other packages use are
importable from here.
"""

from analysis.content.result import ContentResult, Evidence, Finding
from analysis.content.rubric import APPLIES, MECHANICAL, Rubric, RubricItem, ScoringContext, applies
from analysis.content.scoring import LONG_ANSWER_WORDS, Scorer, score_content
from analysis.content.text import FILLERS, WHOLE_SENTENCE_WORDS, segments, typed_transcript

__all__ = [
    "APPLIES",
    "FILLERS",
    "LONG_ANSWER_WORDS",
    "MECHANICAL",
    "WHOLE_SENTENCE_WORDS",
    "ContentResult",
    "Evidence",
    "Finding",
    "Rubric",
    "RubricItem",
    "Scorer",
    "ScoringContext",
    "applies",
    "score_content",
    "segments",
    "typed_transcript",
]
