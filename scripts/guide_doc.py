"""Regenerate docs/guide.md from scenarios/guide.toml, with what cites each rule.

tests/test_guide.py checks the page matches the data.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenarios.guide import cited_by, guide_markdown, load_guide, practised_in  # noqa: E402
from scenarios.library import BUILTIN_DIR, validate_dir  # noqa: E402
from scenarios.rubric import load_rubric  # noqa: E402
from scenarios.scorecard import load_rules  # noqa: E402

DOC = ROOT / "docs" / "guide.md"


def markdown() -> str:
    """The page for the shipped guide, rubric and built-in scenarios (a trainer's own folder is
    not part of the project's documentation)."""
    rubric = load_rubric()
    scenarios = sorted(validate_dir(BUILTIN_DIR, rubric)[0], key=lambda s: s.id)
    return guide_markdown(load_guide(), cited_by(rubric, load_rules(rubric).goals), practised_in(scenarios))


if __name__ == "__main__":
    DOC.write_text(markdown(), encoding="utf-8")
