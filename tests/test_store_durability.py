"""Nothing lost: writers SIGKILLed mid-save keep every acknowledged correction; two writers coexist."""
from __future__ import annotations

import os
import random
import signal
import time

import pytest
from sqlalchemy import create_engine

from derrvos_core.store import Store
from tests.helpers_store import (FORK, H, T, W, check_acknowledged, read_acks, seeded_store, start_writer,
                                 stroke)

KILLS = 20


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
