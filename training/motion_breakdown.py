"""Motion expressions' J&F by the kind of motion they name, from an evaluation's per_expression.csv.

    python training/motion_breakdown.py runs/eval/synthref-test/per_expression.csv [more.csv ...]

SynthRef's meta does not store which predicate a motion expression says, so it is read back from the
text with the generator's own phrase tables (`synthref_phrases`): a steady direction ("moving left"),
a speed ("the faster circle"), being still, or an event (stops, starts, turns, bounces, leaves, enters,
returns). Prints, per file, a markdown table of count, model, largest and oracle J&F per kind.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.datasets.synthref_phrases import DIRECTION_WORDS, MOTION_PHRASES, SPEED_PHRASES  # noqa: E402

KINDS = ("direction", "speed", "still", "stops", "starts", "turns", "bounces", "leaves", "enters", "returns")


def _patterns() -> list:
    """(compiled pattern, kind), longest phrase first, from the generator's phrase tables."""
    endings = [(phrase, pred) for pred, forms in MOTION_PHRASES.items() for form in forms for phrase in form]
    words = [w for forms in DIRECTION_WORDS.values() for w in forms]
    endings += [(f"{verb} {w}", "direction") for verb in ("moving", "that moves", "that move") for w in words]
    patterns = [(re.compile(rf".* {re.escape(phrase)}"), kind)
                for phrase, kind in sorted(endings, key=lambda e: -len(e[0]))]
    speed = [re.compile(".+".join(map(re.escape, t.split("{np}")))) for ts in SPEED_PHRASES.values() for t in ts]
    return patterns + [(p, "speed") for p in speed]


PATTERNS = _patterns()


def motion_kind(text: str) -> str | None:
    """The motion a SynthRef motion expression names (one of KINDS), or None when no phrase matches."""
    return next((kind for pattern, kind in PATTERNS if pattern.fullmatch(text)), None)


def breakdown(csv_path: Path) -> dict:
    """kind -> {"count", "model", "largest", "oracle"} (mean J&F) over the file's motion expressions."""
    sums: dict = {}
    with open(csv_path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["category"] != "motion":
                continue
            kind = motion_kind(row["expression"]) or "unread"
            entry = sums.setdefault(kind, {"count": 0, "model": 0.0, "largest": 0.0, "oracle": 0.0})
            entry["count"] += 1
            for key, column in (("model", "JF"), ("largest", "largest_JF"), ("oracle", "oracle_JF")):
                entry[key] += float(row[column] or 0.0)
    return {k: {"count": v["count"], **{m: v[m] / v["count"] for m in ("model", "largest", "oracle")}}
            for k, v in sums.items()}


def table(result: dict) -> str:
    lines = ["| motion named | n | model | largest | oracle |", "|---|---|---|---|---|"]
    for kind in (*KINDS, "unread"):
        if kind in result:
            r = result[kind]
            lines.append(f"| {kind} | {r['count']} | {r['model']:.3f} | {r['largest']:.3f} | {r['oracle']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="+", type=Path, help="per_expression.csv of training/evaluate.py")
    args = parser.parse_args(argv)
    for path in args.csv:
        print(f"{path.parent.name}:\n{table(breakdown(path))}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
