"""TOML files with line numbers for their keys, so validation can say "file:line: field: fix".

tomllib parses but forgets positions; trainers editing scenario files need to be told where the
problem is. This scans the text once for table headers and ``key =`` lines, which is enough for
the flat files the kiosk uses.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a data file, located for the person who has to fix it."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}"


class DataFileError(Exception):
    """A data file that cannot be used; carries every problem found in it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class TomlSource:
    path: Path
    data: dict
    lines: dict[str, int]
    """Dotted key path ("persona.anger", "item.3.id") to its 1-based line."""

    def line(self, dotted: str) -> int:
        """The line of a key, or of its nearest enclosing table; a missing top-level key is
        reported at line 1, the top of the file where such keys are written."""
        while dotted:
            if dotted in self.lines:
                return self.lines[dotted]
            dotted = dotted.rpartition(".")[0]
        return 1

    def problem(self, dotted: str, message: str) -> Problem:
        return Problem(str(self.path), self.line(dotted), dotted, message)


def read_toml(path: Path) -> TomlSource:
    """Parse a TOML file; a syntax error becomes a DataFileError with its line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from Windows editors is not an error
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError([Problem(str(path), None, "file", f"cannot be read ({exc})")]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise DataFileError(
            [Problem(str(path), int(m.group(1)) if m else None, "syntax", f"not valid TOML ({exc})")]
        ) from exc
    return TomlSource(path, data, _key_lines(text))


def _key_lines(text: str) -> dict[str, int]:
    """Line of every table, key and element of a multi-line array ("lines.repeat.1").

    Lines inside multi-line strings are skipped, so a model answer that happens to contain
    ``word =`` at the start of a line is not taken for a key.
    """
    lines: dict[str, int] = {}
    table, counts = "", {}
    array, depth, element = "", 0, 0
    in_string = False
    for n, raw in enumerate(text.splitlines(), start=1):
        was_in_string = in_string
        in_string ^= (raw.count('"""') + raw.count("'''")) % 2 == 1
        if was_in_string:
            continue
        if depth > 0:
            strings, balance = _scan(raw)
            for _ in range(strings):
                lines.setdefault(f"{array}.{element}", n)
                element += 1
            depth += balance
            continue
        header = _HEADER.match(raw)
        if header and not _KEY.match(raw):
            name = header.group(1).replace('"', "").replace("'", "").strip()
            if raw.lstrip().startswith("[["):
                counts[name] = counts.get(name, -1) + 1
                name = f"{name}.{counts[name]}"
            table = name
            lines.setdefault(table, n)
            continue
        key = _KEY.match(raw)
        if key:
            dotted = f"{table}.{key.group(1).strip(chr(34))}" if table else key.group(1).strip('"')
            lines.setdefault(dotted, n)
            strings, depth = (0, 0) if in_string else _scan(raw[key.end() :])
            array, element = dotted, strings
    return lines


def _scan(raw: str) -> tuple[int, int]:
    """Quoted strings that start on this line, and open minus closed brackets outside them."""
    strings = balance = 0
    quote, escaped = "", False
    for ch in raw:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote, strings = ch, strings + 1
        elif ch == "#":
            break
        elif ch in "[{":
            balance += 1
        elif ch in "]}":
            balance -= 1
    return strings, balance
