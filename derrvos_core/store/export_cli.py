"""`python -m derrvos_core export --db URL --format {mevis,refytvos,davis,coco-rle} --out DIR
[--videos ID ...]`: the store's corrected answers as a dataset."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derrvos_core.errors import DeRVOSError

FORMAT_CHOICES = ("mevis", "refytvos", "davis", "coco-rle")  # export.FORMATS, without importing it for --help


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help="SQLAlchemy URL or SQLite file "
                        "(default: $DERRVOS_DB, else sqlite:///derrvos.db)")
    parser.add_argument("--format", required=True, choices=FORMAT_CHOICES, help="dataset layout to write")
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder (must be new or empty), or a .zip file with --zip")
    parser.add_argument("--videos", nargs="+", type=int, default=None, metavar="ID",
                        help="store ids of the videos to export (default: every video with a run)")
    parser.add_argument("--split", default="train", help="split folder name in the layout (default: train)")
    parser.add_argument("--zip", action="store_true", help="write one zip file at --out instead of a folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier export at --out (only a folder or zip an export made, "
                        "holding nothing else; replaced once the new export is complete)")


def run(args: argparse.Namespace) -> int:
    from derrvos_core.store.engine import redact, resolve_url
    from derrvos_core.store.export import export_dataset, export_zip
    from derrvos_core.store.store import Store

    try:
        url = resolve_url(args.db)
        sqlite_file = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and not Path(sqlite_file).exists():
            raise DeRVOSError(f"no database at {sqlite_file}")
        with Store.open(url) as store:
            if args.zip:
                path = export_zip(store, args.format, args.out, video_ids=args.videos, split=args.split,
                                  overwrite=args.overwrite)
                print(f"wrote {path} ({args.format}) from {redact(url)}")
                return 0
            report = export_dataset(store, args.format, args.out, video_ids=args.videos, split=args.split,
                                    overwrite=args.overwrite)
    except DeRVOSError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {report.format} dataset to {report.out_dir}: {report.num_videos} videos, "
          f"{report.num_expressions} expressions, {report.num_frames} frames; answers per frame: "
          f"{report.num_corrected_frames} corrected, {report.num_model_frames} model-only "
          f"(flags in derrvos_export.json)")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
