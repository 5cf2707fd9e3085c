"""How the attack suite counts: each attack or trial ends as a clear error, a correct result, a wrong
result or a traceback (and durability trials count acknowledged data lost), per category; `table` prints
the counts as the README's table.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import sys
import traceback
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from derrvos_core.errors import DeRVOSError  # noqa: E402


FORK = multiprocessing.get_context("fork")
COLUMNS = ("attacks tried", "clear errors", "correct results", "wrong results", "tracebacks",
           "acknowledged data lost")


@dataclasses.dataclass
class Tally:
    """Outcomes of one category of attacks."""

    tried: int = 0
    clear: int = 0
    correct: int = 0
    wrong: int = 0
    tracebacks: int = 0
    lost: int = 0
    notes: list = dataclasses.field(default_factory=list)


TALLIES: dict[str, Tally] = defaultdict(Tally)


def attack(category: str, name: str, call, expect: str = "refuse") -> None:
    """Run `call()`; `expect` "refuse" (a DeRVOSError is right), "accept" (returning is right) or
    "either" (a damaged file that a decoder may conceal or refuse). Returns whether it came out right."""
    tally = TALLIES[category]
    tally.tried += 1
    try:
        call()
    except DeRVOSError as err:
        if expect in ("refuse", "either") and str(err).strip():
            tally.clear += 1
        else:
            tally.wrong += 1
            tally.notes.append(f"{name}: refused ({type(err).__name__}: {str(err)[:160]})")
    except Exception as err:  # noqa: BLE001  (that is the point: any other exception is a finding)
        tally.tracebacks += 1
        where = traceback.extract_tb(err.__traceback__)[-1]
        tally.notes.append(f"{name}: TRACEBACK {type(err).__name__}: {str(err)[:160]} "
                           f"({Path(where.filename).name}:{where.lineno})")
    else:
        if expect in ("accept", "either"):
            tally.correct += 1
        else:
            tally.wrong += 1
            tally.notes.append(f"{name}: accepted, should have been refused")


def checked(category: str, name: str, ok: bool, lost: int = 0, note: str = "") -> None:
    """Record a trial judged by its own check (durability, concurrency)."""
    tally = TALLIES[category]
    tally.tried += 1
    tally.lost += lost
    if ok and not lost:
        tally.correct += 1
    else:
        tally.wrong += 1
        tally.notes.append(f"{name}: {note or 'check failed'}")


# -- the table -----------------------------------------------------------------------------------------------

def table() -> str:
    rows = [("category",) + COLUMNS]
    total = Tally()
    for name, t in TALLIES.items():
        rows.append((name, t.tried, t.clear, t.correct, t.wrong, t.tracebacks, t.lost))
        for field in ("tried", "clear", "correct", "wrong", "tracebacks", "lost"):
            setattr(total, field, getattr(total, field) + getattr(t, field))
    rows.append(("**total**", total.tried, total.clear, total.correct, total.wrong, total.tracebacks,
                 total.lost))
    lines = ["| " + " | ".join(str(c) for c in rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)
