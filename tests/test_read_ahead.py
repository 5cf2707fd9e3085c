"""ReadAhead: the next crop is decoded on a worker thread; results and errors are those of plain reads."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from derrvos_core.errors import VideoError
from derrvos_core.model.frames import ArrayFrames, ReadAhead, crop_reader


class CountingReader:
    """A reader over an array that records every read and may fail on one frame range."""

    def __init__(self, frames: np.ndarray, fail_from: int | None = None):
        self.frames, self.fail_from = frames, fail_from
        self.reads: list[tuple[int, int, str]] = []
        self.lock = threading.Lock()
        self.concurrent = 0
        self.max_concurrent = 0

    def read(self, start: int, stop: int) -> np.ndarray:
        with self.lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            self.reads.append((start, stop, threading.current_thread().name))
            if self.fail_from is not None and stop > self.fail_from:
                raise VideoError(f"cannot decode frame {self.fail_from}")
            return self.frames[start:stop].copy()
        finally:
            with self.lock:
                self.concurrent -= 1


def video(n: int = 10) -> np.ndarray:
    return np.arange(n * 2 * 2 * 3, dtype=np.uint8).reshape(n, 2, 2, 3)


def test_crops_in_order_equal_plain_reads_and_the_next_is_read_ahead():
    frames = video(10)
    reader = CountingReader(frames)
    with ReadAhead(reader, 10, 4) as ahead:
        for start in (0, 4, 8):
            np.testing.assert_array_equal(ahead.read(start, min(start + 4, 10)), frames[start:start + 4])
    assert [r[:2] for r in reader.reads] == [(0, 4), (4, 8), (8, 10)]  # each crop decoded once
    assert reader.reads[0][2] == threading.current_thread().name
    assert all(r[2].startswith("derrvos-read-ahead") for r in reader.reads[1:])
    assert reader.max_concurrent == 1  # the reader is never used by two threads at once


def test_nothing_is_read_ahead_before_a_crop_is_read():
    reader = CountingReader(video(10))
    with ReadAhead(reader, 10, 4):
        pass
    assert reader.reads == []


def test_an_unexpected_range_waits_for_the_read_in_flight_then_reads_directly():
    frames = video(12)
    reader = CountingReader(frames)
    with ReadAhead(reader, 12, 4) as ahead:
        ahead.read(0, 4)  # reads 4..8 ahead
        np.testing.assert_array_equal(ahead.read(2, 9), frames[2:9])
    assert reader.max_concurrent == 1
    assert (2, 9) in [r[:2] for r in reader.reads]


def test_an_error_read_ahead_surfaces_when_that_crop_is_read():
    reader = CountingReader(video(10), fail_from=6)
    with ReadAhead(reader, 10, 4) as ahead:
        ahead.read(0, 4)
        with pytest.raises(VideoError, match="frame 6"):
            ahead.read(4, 8)


def test_an_error_in_a_crop_never_asked_for_is_dropped_on_close():
    reader = CountingReader(video(10), fail_from=6)
    with ReadAhead(reader, 10, 4) as ahead:
        ahead.read(0, 4)  # 4..8 fails on the worker; nobody reads it
    assert [r[:2] for r in reader.reads] == [(0, 4), (4, 8)]


def test_frames_in_memory_are_not_read_ahead():
    frames = ArrayFrames(video(5))
    with crop_reader(frames, 5, 2) as reader:
        assert reader is frames
