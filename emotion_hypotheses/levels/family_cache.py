"""Share a run's rigorous family results between pytest-xdist workers through the run store.

Every worker selects the same family of rigorous tests, and the results are deterministic because
seeds derive from test names. So one worker computes them under a file lock and writes them as
JSON next to the run store, and the other workers wait for the lock and read the file. The key covers
what changes the results: the family, the samples' store keys, the text encoder, the statistics
settings, and the source of the code that computes them.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import filelock

from ..atomic import write_text_atomic
from ..plugin.results import jsonable
from ..store import entry_key
from .rigorous import RigorousOutcome

logger = logging.getLogger("emotion_hypotheses.rigorous")

PACKAGE = Path(__file__).resolve().parents[1]

# Modules whose code decides the rigorous results; editing any of them invalidates cached families.
CODE_FILES = ("levels/rigorous.py", "levels/data.py", "levels/text_embedding.py", "analysis/acoustic.py",
              "stats/probes.py", "stats/permutation.py", "stats/multiple.py", "stats/representation.py",
              "stats/lexical.py")


def code_version() -> str:
    """Return a hash of the modules that compute rigorous results."""
    return entry_key({name: (PACKAGE / name).read_text(encoding="utf-8") for name in CODE_FILES})[:16]


def cached_family(directory: Path, fields: dict, compute: Callable[[], dict]) -> dict:
    """Return ``compute()``'s outcomes for ``fields``, computed once across processes and stored as JSON."""
    key = entry_key({**fields, "code": code_version()})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}.json"

    with filelock.FileLock(str(path) + ".lock"):
        if path.exists():
            try:
                return decode(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError) as error:
                warnings.warn(f"rigorous results {path} are unreadable ({error}); computing them again", stacklevel=2)

        outcomes = compute()
        write_text_atomic(path, json.dumps(encode(outcomes), default=jsonable))
        logger.info("computed %d rigorous tests -> %s", len(outcomes), path.name)
    return outcomes


def encode(outcomes: dict) -> list[dict]:
    return [asdict(outcome) for outcome in outcomes.values()]


def decode(records: list[dict]) -> dict:
    outcomes = {}
    for record in records:
        if record.get("ci") is not None:
            record["ci"] = tuple(record["ci"])
        outcome = RigorousOutcome(**record)
        outcomes[(outcome.level, outcome.name)] = outcome
    return outcomes
