"""Regenerate the item tables of docs/rubric.md from scenarios/rubric.toml.

The hand-written part below the marker is kept; tests/test_content.py checks the tables match
the data.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenarios.rubric import RULES_MARKER, load_rubric, rubric_markdown  # noqa: E402

DOC = ROOT / "docs" / "rubric.md"

if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else RULES_MARKER + "\n"
    DOC.write_text(rubric_markdown(load_rubric()) + text[text.index(RULES_MARKER) :], encoding="utf-8")
