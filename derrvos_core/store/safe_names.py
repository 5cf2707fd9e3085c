"""File names for exports that cannot leave the output folder, whatever a video is called."""
from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from derrvos_core.errors import InputError

MAX_NAME_BYTES = 80  # well under every filesystem's 255, leaves room for suffixes
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}


def safe_name(name: str, fallback: str) -> str:
    """One path component made of letters, digits, "-", "_" and inner "."; never empty, "." or "..",
    never starting with "-".

    Unicode letters stay (NFC); separators, control characters (NUL included), spaces and anything
    else become "_"; leading dots go (no hidden files, no "..").
    """
    text = unicodedata.normalize("NFC", str(name))
    chars = [c if (c.isalnum() or c in "-_.") and c.isprintable() else "_" for c in text]
    cleaned = "".join(chars)
    while "__" in cleaned or ".." in cleaned:
        cleaned = cleaned.replace("..", "_").replace("__", "_")
    # No leading "-" either: a name must not read as a command-line option.
    cleaned = _truncate(cleaned.strip("._").lstrip("-"), MAX_NAME_BYTES).strip("._")
    if not cleaned:
        cleaned = fallback
    if cleaned.split(".")[0].upper() in _WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned


def _truncate(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore").rstrip(". ")


def unique_names(names: list[str], fallback_prefix: str) -> list[str]:
    """`safe_name` of each, made unique (case-insensitively, for case-folding filesystems) by suffixes."""
    out, taken = [], set()
    for i, name in enumerate(names):
        base = safe_name(name, f"{fallback_prefix}{i}")
        candidate, k = base, 1
        while candidate.casefold() in taken:
            k += 1
            candidate = f"{base}-{k}"
        taken.add(candidate.casefold())
        out.append(candidate)
    return out


def inside(root: Path, *parts: str) -> Path:
    """`root / parts...`, refusing any result that is not strictly inside `root` (defence in depth:
    callers pass names from `safe_name`)."""
    root_real = Path(os.path.realpath(root))
    path = Path(os.path.realpath(root_real.joinpath(*parts)))
    if path == root_real or root_real not in path.parents:
        raise InputError(f"refusing to write {'/'.join(parts)!r}: it is not inside {root}")
    return path
