"""Palette PNG formats (Ref-YouTube-VOS, DAVIS): one palette index per instance of a video, and the
frame of indices they paint."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derrvos_core.result import decode_rle
from derrvos_core.store.export_answers import ExportError, VideoExport

MAX_PALETTE_ID = 255


@dataclass(frozen=True)
class PaletteIds:
    """A video's palette indices.

    Attributes:
        per_expression: per expression, the indices its entries name: its instances' ids, or for a
            no-target answer the one index `empty_id` (the layouts give every expression an object).
        empty_id: the index no pixel carries (K + 1), or None when every expression has an object.
        count: indices in use, 1..count.
    """

    per_expression: tuple
    empty_id: int | None
    count: int


def palette_ids(item: VideoExport) -> PaletteIds:
    """The video's indices; ExportError when they do not fit a palette PNG (255 objects)."""
    instances = item.instances
    empty_id = instances.count + 1 if any(not ids for ids in instances.per_expression) else None
    per_expression = tuple(ids or (empty_id,) for ids in instances.per_expression)
    count = instances.count + (empty_id is not None)
    if count > MAX_PALETTE_ID:
        raise ExportError(f"video {item.name}: {count} distinct objects do not fit a palette PNG "
                          f"({MAX_PALETTE_ID}); export it as mevis or coco-rle")
    return PaletteIds(per_expression=per_expression, empty_id=empty_id, count=count)


def compose_ids(item: VideoExport, frame: int) -> tuple[np.ndarray, int]:
    """uint8 [H, W] instance ids at `frame`, and the number of pixels two instances both claimed (the
    later instance keeps them: a palette PNG holds one object per pixel)."""
    v = item.video
    canvas = np.zeros((v.height, v.width), dtype=np.uint8)
    overlap = 0
    for index, track in enumerate(item.instances.tracks, start=1):
        rle = track[frame]
        if rle is None:
            continue
        mask = decode_rle(rle)
        overlap += int((mask & (canvas > 0)).sum())
        canvas[mask] = index
    return canvas, overlap


def present_frames(item: VideoExport, palette_id: int) -> list[str]:
    """Frame names where instance `palette_id` has pixels (none for the empty index)."""
    tracks = item.instances.tracks
    if palette_id > len(tracks):
        return []
    return [n for n, r in zip(item.frame_names, tracks[palette_id - 1]) if r is not None]
