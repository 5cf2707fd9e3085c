"""Two evaluations of the same expressions, compared per category with paired-bootstrap intervals.

    python training/compare_evals.py runs/eval/a runs/eval/b [--column JF] [--out table.md]
    python training/compare_evals.py runs/eval/a runs/eval/a --column-b largest_JF   # the model against a baseline

Each argument is an output folder of `training/evaluate.py` (its `per_expression.csv`). The rows are
matched by (video, expression); a pair of runs over different expressions is refused. For every
category (and all), the table gives n, each run's mean, and mean(a) - mean(b) with its 95% paired
bootstrap interval over expressions (`ablate_train.paired_interval`): an interval that contains 0 is
not a finding.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.ablate_train import paired_interval


def read_scores(folder: Path, column: str) -> dict[tuple[str, str], tuple[str, float]]:
    """{(video_id, expression_id): (category, score)} from `folder`/per_expression.csv."""
    path = Path(folder) / "per_expression.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no per_expression.csv (an output folder of training/evaluate.py?)")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and column not in rows[0]:
        raise ValueError(f"{path.name} in {folder} has no column {column!r}")
    return {(r["video_id"], r["expression_id"]): (r.get("category") or "all", float(r[column])) for r in rows}


def compare(a: dict, b: dict, draws: int = 4000) -> list[dict]:
    """Rows of (group, n, mean a, mean b, diff, low, high), for all expressions first, then per category."""
    if set(a) != set(b):
        only_a, only_b = len(set(a) - set(b)), len(set(b) - set(a))
        raise ValueError(f"the runs scored different expressions ({only_a} only in the first, {only_b} only "
                         "in the second); use the same split and --limit")
    keys = sorted(a)
    groups = {"all": keys}
    for k in keys:
        groups.setdefault(a[k][0], []).append(k)
    rows = []
    for name in ["all"] + sorted(g for g in groups if g != "all"):
        sa, sb = [a[k][1] for k in groups[name]], [b[k][1] for k in groups[name]]
        diff, low, high = paired_interval(sa, sb, draws=draws)
        rows.append({"group": name, "n": len(sa), "a": sum(sa) / len(sa), "b": sum(sb) / len(sb),
                     "diff": diff, "low": low, "high": high})
    return rows


def markdown(rows: list[dict], name_a: str, name_b: str, column: str) -> str:
    lines = [f"| group | n | {name_a} | {name_b} | difference ({column}) | 95% interval |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['group']} | {r['n']} | {r['a']:.3f} | {r['b']:.3f} | {r['diff']:+.3f} | "
                     f"[{r['low']:+.3f}, {r['high']:+.3f}] |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a", type=Path, help="evaluate.py output folder")
    p.add_argument("b", type=Path, help="evaluate.py output folder (the reference)")
    p.add_argument("--column", default="JF", help="per_expression.csv column (JF, J, F, largest_JF, ...)")
    p.add_argument("--column-b", default=None, help="column of the second run (default: --column)")
    p.add_argument("--draws", type=int, default=4000)
    p.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = p.parse_args(argv)
    try:
        b = read_scores(args.b, args.column_b or args.column)
        rows = compare(read_scores(args.a, args.column), b, draws=args.draws)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    name_b = args.b.name if args.column_b in (None, args.column) or args.a != args.b else args.column_b
    table = markdown(rows, args.a.name, name_b, args.column)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
