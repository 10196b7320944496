"""The scenario library: the built-in scenarios plus any folder a trainer drops TOML files into.

An invalid file is reported and skipped; it never stops the kiosk. Extra folders come from
``KIOSK_SCENARIOS_DIR`` (several separated by ``:``) or from the caller.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from analysis.content import Rubric
from scenarios.model import Scenario, parse_scenario
from scenarios.rubric import load_rubric
from scenarios.toml_source import DataFileError, Problem, read_toml

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).with_name("library")
ENV_DIRS = "KIOSK_SCENARIOS_DIR"


class ScenarioNotFound(KeyError):
    def __str__(self) -> str:
        return f"no scenario with id {self.args[0]!r} (see `kiosk scenarios list`)"


@dataclass(frozen=True)
class Library:
    scenarios: dict[str, Scenario]
    problems: tuple[Problem, ...]
    """Everything wrong in the files that were skipped or partly rejected."""

    def get(self, scenario_id: str) -> Scenario:
        try:
            return self.scenarios[scenario_id]
        except KeyError:
            raise ScenarioNotFound(scenario_id) from None

    def sorted(self) -> list[Scenario]:
        return sorted(self.scenarios.values(), key=lambda s: (s.difficulty, s.setting, s.id))


def scenario_dirs(extra: list[str | Path] | None = None) -> list[Path]:
    dirs = [BUILTIN_DIR]
    env = os.environ.get(ENV_DIRS, "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d.strip()]
    dirs += [Path(d) for d in extra or []]
    return dirs


def validate_dir(
    directory: Path, rubric: Rubric, seen: dict[str, str] | None = None
) -> tuple[list[Scenario], list[Problem]]:
    """Parse every *.toml in ``directory``; ``seen`` maps ids already taken to their files."""
    seen = {} if seen is None else seen
    good, problems = [], []
    if not directory.is_dir():
        return good, [Problem(str(directory), None, "folder", "not a folder of scenario files")]
    for path in sorted(directory.glob("*.toml")):
        if path.name.startswith("."):
            continue  # editor lock and backup files (.#name.toml), not the trainer's scenarios
        try:
            src = read_toml(path)
            scenario = parse_scenario(src, rubric)
        except DataFileError as exc:
            problems.extend(exc.problems)
            continue
        if scenario.id in seen:
            problems.append(src.problem("id", f"duplicate id {scenario.id!r}, already used by {seen[scenario.id]}"))
            continue
        seen[scenario.id] = str(path)
        good.append(scenario)
    return good, problems


def validate_folder(directory: Path, rubric: Rubric) -> tuple[list[Scenario], list[Problem]]:
    """A trainer's folder checked as the kiosk will load it: its ids may not repeat built-in ones."""
    seen: dict[str, str] = {}
    if directory.resolve() != BUILTIN_DIR.resolve():
        seen = {s.id: s.path for s in validate_dir(BUILTIN_DIR, rubric)[0]}
    return validate_dir(directory, rubric, seen)


def load_library(extra_dirs: list[str | Path] | None = None, rubric: Rubric | None = None) -> Library:
    rubric = rubric or load_rubric()
    scenarios, problems, seen = {}, [], {}
    for directory in scenario_dirs(extra_dirs):
        good, bad = validate_dir(directory, rubric, seen)
        scenarios.update({s.id: s for s in good})
        problems.extend(bad)
    for problem in problems:
        log.warning("skipped scenario data: %s", problem)
    return Library(with_rivals(scenarios), tuple(problems))


def with_rivals(scenarios: dict[str, Scenario]) -> dict[str, Scenario]:
    """Each scenario with every other scenario's remedies as its rivals: an offer is judged by
    which customer's problem it is nearest to, so a paragraph learned for the late sofa settles
    the late sofa and nothing else (analysis.offer_fit)."""
    out = {}
    for sid, s in scenarios.items():
        own = set(s.resolution.remedies)
        rivals = dict.fromkeys(
            t for other in scenarios.values() if other.id != sid for t in other.resolution.remedies if t not in own
        )
        out[sid] = replace(s, resolution=replace(s.resolution, rivals=tuple(rivals))) if own else s
    return out
