"""What the store tests share: a small frame folder, a two-crop result, a seeded store, and the forked
writers (with their acks) of the durability and attack tests. Fixtures are in conftest.py."""
from __future__ import annotations

import multiprocessing
import os
import select
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from derrvos_core.result import SegmentationResult, TrajectoryResult
from derrvos_core.settings import SegmentSettings
from derrvos_core.store import CorrectionKind, RunContext, Store
from derrvos_core.store.rle import encode_rle

H, W, T = 24, 32, 6


def make_frames(folder: Path, num_frames: int = T, seed: int = 0) -> Path:
    """A frame folder of PNGs (distinct content per seed)."""
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:H, 0:W]
    for i in range(num_frames):  # smooth gradients (JPEG keeps them close), shifted per seed and frame
        frame = np.stack([x * 4 + 20 * seed, y * 5 + 7 * i, np.full_like(x, 60 + 30 * seed)], axis=-1)
        Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)).save(folder / f"{i:05d}.png")
    return folder


def box(top: int, left: int, size: int = 6) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[top:top + size, left:left + size] = True
    return mask


def make_result(num_frames: int = T, crop_size: int = 3) -> SegmentationResult:
    """Two crops; per crop three trajectories with scores 0.9 / 0.5 / 0.2; trajectory 2 of each crop empty
    on its first frame."""
    trajectories, tid = [], 0
    for crop, start in enumerate(range(0, num_frames, crop_size)):
        length = min(crop_size, num_frames - start)
        for k, score in enumerate((0.9, 0.5, 0.2)):
            rles = tuple(None if (k == 2 and i == 0) else encode_rle(box(2 + 6 * k, 2 + i + 8 * k))
                         for i in range(length))
            trajectories.append(TrajectoryResult(trajectory_id=tid, crop_index=crop, frame_start=start,
                                                 score=score - 0.01 * crop, rles=rles, link_id=k))
            tid += 1
    result = SegmentationResult(num_frames=num_frames, height=H, width=W, trajectories=tuple(trajectories),
                                settings=SegmentSettings(crop_size=crop_size, threshold=0.7),
                                expression="the left square")
    return result.select(0.7)


def seeded_store(store: Store, folder: Path, seed: int = 0) -> tuple[Store, int]:
    video = store.add_video(make_frames(folder, seed=seed), fps=10.0, num_frames=T, height=H, width=W)
    run_id = store.save_run(video, "the left square", make_result(), "derrvos-tiny@abc123",
                            RunContext(device="cpu", model_name="derrvos-tiny"),
                            {"trajectory": 0.5, "tais": 0.25})
    return store, run_id


FORK = multiprocessing.get_context("fork")  # the child starts in milliseconds, with everything imported


def stroke(token: str) -> np.ndarray:
    """A mask that only this token draws, so each stored row can be checked against its ack."""
    rng = np.random.default_rng(zlib.crc32(token.encode()))
    return rng.random((H, W)) < 0.3


def kind_of(i: int) -> CorrectionKind:
    return (CorrectionKind.DRAW, CorrectionKind.ERASE, CorrectionKind.ACCEPT, CorrectionKind.REJECT)[i % 4]


def writer(url: str, run_id: int, ack_fd: int, tag: str, count: int) -> None:
    """Save `count` corrections, writing "id token" to `ack_fd` after each commit."""
    store = Store(url)
    for i in range(count):
        token, kind = f"{tag}-{i}", kind_of(i)
        if kind in (CorrectionKind.DRAW, CorrectionKind.ERASE):
            saved = store.add_correction(run_id, kind, user=token, frame=i % T, mask=stroke(token))
        else:
            saved = store.add_correction(run_id, kind, user=token, trajectory_id=i % 6)
        os.write(ack_fd, f"{saved.id} {token}\n".encode())
    os._exit(0)


def start_writer(url: str, run_id: int, tag: str, count: int) -> tuple[multiprocessing.Process, int]:
    read_fd, write_fd = os.pipe()
    process = FORK.Process(target=writer, args=(url, run_id, write_fd, tag, count), daemon=True)
    process.start()
    os.close(write_fd)  # the child holds the only write end: EOF when it dies
    return process, read_fd


def read_acks(read_fd: int, want: int | None, timeout: float = 30.0) -> list[tuple[int, str]]:
    """Acks until `want` arrived (None: until EOF)."""
    acks, buffer, deadline = [], b"", time.monotonic() + timeout
    while want is None or len(acks) < want:
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"writer acknowledged {len(acks)} corrections, expected {want}")
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        acks += [(int(i), t) for i, t in (line.decode().split() for line in lines)]
    return acks


def check_acknowledged(store: Store, run_id: int, acks: list[tuple[int, str]]) -> None:
    stored = {c.id: c for c in store.corrections(run_id)}
    for correction_id, token in acks:
        row = stored.get(correction_id)
        assert row is not None, f"acknowledged correction {correction_id} ({token}) is lost"
        assert row.user == token
        i = int(token.rsplit("-", 1)[1])
        assert row.kind is kind_of(i)
        if row.kind in (CorrectionKind.DRAW, CorrectionKind.ERASE):
            assert row.rle == encode_rle(stroke(token))
    # One transaction per save: no row was left without the answer written after its insert.
    assert all(c.result_rle is not None for c in stored.values() if c.kind in (CorrectionKind.DRAW,
                                                                                CorrectionKind.ERASE))
