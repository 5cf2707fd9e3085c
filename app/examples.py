"""The shipped example videos: each `<stem>.<video suffix>` in the examples folder, with an optional
`<stem>.json` giving a title, expressions to try and where the clip comes from."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".gif")


@dataclass(frozen=True)
class Example:
    """A shipped example: `name` is its file stem, `title` what the page shows."""

    name: str
    path: Path
    title: str
    expressions: tuple[str, ...]
    source: str


def list_examples(folder: Path) -> list[Example]:
    """The examples in `folder`, by their sidecar's "order" then by name ([] when the folder is missing)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
        meta = _read_meta(path.with_suffix(".json"))
        out.append((_order(meta), Example(name=path.stem, path=path, title=str(meta.get("title", path.stem)),
                           expressions=tuple(str(e) for e in meta.get("expressions", [])),
                           source=str(meta.get("source", "")))))
    return [example for _, example in sorted(out, key=lambda pair: (pair[0], pair[1].name))]


def _order(meta: dict) -> float:
    try:
        return float(meta.get("order", 100))
    except (TypeError, ValueError):
        return 100.0


def _read_meta(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a broken sidecar must not hide its video
    return meta if isinstance(meta, dict) else {}
