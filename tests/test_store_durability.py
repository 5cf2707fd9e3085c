"""Nothing lost: writers SIGKILLed mid-save keep every acknowledged correction; two writers coexist."""
from __future__ import annotations

import multiprocessing
import os
import random
import select
import signal
import time
import zlib

import numpy as np
import pytest
from sqlalchemy import create_engine

from derrvos_core.store import CorrectionKind, Store
from derrvos_core.store.rle import encode_rle
from tests.pg import postgres  # noqa: F401  (fixture)
from tests.test_store import H, W, T, seeded_store

KILLS = 20
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


def test_sigkilled_writer_loses_no_acknowledged_correction(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store, run_id = seeded_store(Store.open(url), tmp_path / "frames")
    store.engine.dispose()  # no open connection may cross the fork
    rng = random.Random(7)
    acknowledged, killed_mid_save = [], 0
    for round_ in range(KILLS):
        process, read_fd = start_writer(url, run_id, f"k{round_}", count=10_000)
        acknowledged += read_acks(read_fd, want=rng.randint(1, 4))
        time.sleep(rng.uniform(0.0, 0.02))  # land anywhere inside the next save
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        assert process.exitcode == -signal.SIGKILL
        acknowledged += read_acks(read_fd, want=None)  # acks written before death count too
        os.close(read_fd)
    with create_engine(url).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    check_acknowledged(store, run_id, acknowledged)
    stored_ids = {c.id for c in store.corrections(run_id)}
    killed_mid_save = len(stored_ids) - len(acknowledged)  # committed but killed before the ack
    print(f"{len(acknowledged)} acknowledged, {killed_mid_save} committed but not acknowledged")
    assert len(acknowledged) >= KILLS and 0 <= killed_mid_save <= KILLS
    # Each save either fully happened or not at all; the store still works after all the kills.
    assert store.final_masks(run_id).masks.shape == (T, H, W)
    store.draw(run_id, 0, stroke("after"), user="after")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_writers_at_once_keep_each_others_work(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    store, run_id = seeded_store(Store.open(url), tmp_path / "frames")
    store.engine.dispose()
    count = 25
    writers = [start_writer(url, run_id, tag, count) for tag in ("a", "b")]
    acknowledged = []
    for process, read_fd in writers:
        acknowledged += read_acks(read_fd, want=None, timeout=60)
        process.join(timeout=60)
        os.close(read_fd)
        assert process.exitcode == 0
    assert len(acknowledged) == 2 * count
    check_acknowledged(store, run_id, acknowledged)
    assert len(store.corrections(run_id)) == 2 * count
    store.close()


def test_threads_share_one_store(tmp_path):
    """The app's request threads share one Store: concurrent saves all land."""
    import threading

    store, run_id = seeded_store(Store.open(tmp_path / "store.db"), tmp_path / "frames")
    errors = []

    def work(k: int) -> None:
        try:
            for i in range(10):
                store.draw(run_id, i % T, stroke(f"t{k}-{i}"), user=f"t{k}-{i}")
        except Exception as exc:  # surfaced by the assert below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(store.corrections(run_id)) == 40


def open_store(url: str, ack_fd: int) -> None:
    Store.open(url)
    os.write(ack_fd, b"0 opened\n")
    os._exit(0)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_apps_starting_at_once_both_migrate_cleanly(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    starts = []
    for _ in range(2):
        read_fd, write_fd = os.pipe()
        process = FORK.Process(target=open_store, args=(url, write_fd), daemon=True)
        process.start()
        os.close(write_fd)
        starts.append((process, read_fd))
    for process, read_fd in starts:
        assert read_acks(read_fd, want=None, timeout=60) == [(0, "opened")]
        process.join(timeout=60)
        os.close(read_fd)
        assert process.exitcode == 0
    assert not Store(url).needs_upgrade()
