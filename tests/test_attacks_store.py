"""Attacks on the store and exports (issue 19, items 3 and 6): values the backend cannot hold, NaN scores,
a full disk, concurrent writers on PostgreSQL, a SIGKILLed export. SQLite and PostgreSQL alike."""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time

import numpy as np
import pytest
from sqlalchemy import event

from derrvos_core.errors import InputError, ModelError, StoreError
from derrvos_core.result import decode_rle
from derrvos_core.store import CorrectionKind, RunContext, Store
from derrvos_core.store.corrections import mark_active, plan_answer
from derrvos_core.store.export import clean_stale, export_dataset
from derrvos_core.store.export_answers import ExportError
from tests.helpers_store import T, make_frames, make_result, read_acks, seeded_store, start_writer, stroke

FORK = multiprocessing.get_context("fork")


def counts(store: Store) -> dict:
    return {t: store.count(t) for t in ("videos", "expressions", "runs", "trajectories", "corrections")}


def test_values_the_backend_cannot_hold_are_refused_before_writing(store, tmp_path):
    store, run_id = seeded_store(store, tmp_path / "frames")
    video = store.videos()[0]
    before = counts(store)
    cases = [
        (lambda: store.save_run(video, "the car\x00", make_result(), "tiny@1"), "NUL"),
        (lambda: store.add_expression(video.id, "\x00\x00"), "NUL"),
        (lambda: store.add_expression(video.id, "\u200b\u200b"), "no visible"),
        (lambda: store.add_expression(video.id, "a \ud800 b"), "lone surrogate"),
        (lambda: store.save_run(video, "the car", make_result(), "v" * 201), "model version is 201"),
        (lambda: store.save_run(video, "the car", make_result(), "tiny@1\x00"), "NUL"),
        (lambda: store.save_run(video, "the car", make_result(), "tiny@1", RunContext(model_name="m" * 201)),
         "model name"),
        (lambda: store.save_run(video, "the car", make_result(), "tiny@1", timings={"t": float("nan")}),
         "finite"),
        (lambda: store.draw(run_id, 0, stroke("x"), user="ann\x00"), "NUL"),
        (lambda: store.draw(run_id, 0, stroke("x"), user="u" * 201), "201 characters"),
        (lambda: store.set_threshold(run_id, float("nan"), user="ann"), "finite"),
        (lambda: store.set_threshold(run_id, "high", user="ann"), "threshold must be a number"),
        (lambda: store.register_model_version("m", "v" * 201, "/x", {}), "201 characters"),
        (lambda: store.load_run(10**12), "no run with id"),
    ]
    for call, message in cases:
        with pytest.raises(InputError, match=message):
            call()
    assert counts(store) == before  # nothing half-written


def test_nan_scores_never_reach_the_store(store, tmp_path):
    store, _ = seeded_store(store, tmp_path / "frames")
    result = make_result()
    broken = dataclasses.replace(result, trajectories=(
        dataclasses.replace(result.trajectories[0], score=float("nan")),) + result.trajectories[1:])
    before = counts(store)
    with pytest.raises(ModelError, match="score nan"):
        store.save_run(store.videos()[0], "the car", broken, "tiny@1")
    assert counts(store) == before


def test_a_full_disk_says_nothing_was_saved_and_the_store_works_after(tmp_path):
    store, run_id = seeded_store(Store.open(tmp_path / "store.db"), tmp_path / "frames")
    store.engine.dispose()
    pages = store.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()
    store.engine.dispose()

    def full(dbapi_connection, _record):  # SQLite's own full-disk error, at the database's current size
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")
    event.listen(store.engine, "connect", full)
    big = make_result(num_frames=T)
    before = counts(store)
    with pytest.raises(StoreError, match="no space left.*Nothing was saved") as err:
        for i in range(50):  # the first save that needs a new page fails
            store.save_run(store.videos()[0], f"expression {i} " + "x" * 500, big, "tiny@1")
    assert err.value.reason == "no space left on the disk that holds the database"
    saved_before_full = store.count("runs") - before["runs"]
    event.remove(store.engine, "connect", full)
    store.engine.dispose()
    run = store.save_run(store.videos()[0], "after the disk was freed", big, "tiny@1")  # saving again works
    assert store.load_run(run) == big
    assert store.count("runs") == before["runs"] + saved_before_full + 1
    assert len(store.corrections(run_id)) == 0


def replay_disagreements(store: Store, run_id: int) -> list[int]:
    """Pixel corrections whose stored `result_rle` differs from replaying every correction up to it."""
    result = store.load_run(run_id)
    stored = store.corrections(run_id)
    wrong = []
    for i, c in enumerate(stored):
        if c.kind not in (CorrectionKind.DRAW, CorrectionKind.ERASE, CorrectionKind.SET):
            continue
        plan = plan_answer(result, mark_active(stored[:i + 1]))
        if not np.array_equal(plan.frame_answer(c.frame).mask, decode_rle(c.result_rle)):
            wrong.append(c.id)
    return wrong


def test_concurrent_writers_on_postgres_store_snapshots_that_agree_with_a_replay(postgres, tmp_path):  # noqa: F811
    url = postgres.create_database()
    store, run_id = seeded_store(Store.open(url), tmp_path / "frames")
    store.engine.dispose()
    writers = [start_writer(url, run_id, tag, 12) for tag in ("a", "b", "c", "d")]
    acknowledged = []
    for process, read_fd in writers:
        acknowledged += read_acks(read_fd, want=None, timeout=120)
        process.join(timeout=60)
        os.close(read_fd)
        assert process.exitcode == 0
    assert len(acknowledged) == 48 == len(store.corrections(run_id))
    assert replay_disagreements(store, run_id) == []
    store.close()


def slow_export(url: str, out: str) -> None:
    """An export (replacing an earlier one, if any) that stops for good after its first video, to be
    SIGKILLed there."""
    export_dataset(Store(url), "davis", out, overwrite=True, progress=lambda done, total: time.sleep(600))
    os._exit(0)


def test_a_sigkilled_exports_hidden_folder_is_cleaned_by_the_next_export(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store, _ = seeded_store(Store.open(url), tmp_path / "frames")
    store.engine.dispose()
    out = tmp_path / "exports" / "davis"
    process = FORK.Process(target=slow_export, args=(url, str(out)), daemon=True)
    process.start()
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(".davis.partial-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # inside the export's first video
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    left = list(out.parent.glob(".davis.partial-*"))
    assert left and not out.exists()
    export_dataset(store, "davis", out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["davis"]  # only the finished export


def test_a_previous_export_set_aside_by_a_killed_overwrite_is_put_back(tmp_path):
    store, _ = seeded_store(Store.open(tmp_path / "store.db"), tmp_path / "frames")
    out = tmp_path / "exports" / "davis"
    export_dataset(store, "davis", out)
    dead = FORK.Process(target=os._exit, args=(0,))
    dead.start()
    dead.join()
    aside = out.with_name(f".davis.old-{dead.pid}")
    os.replace(out, aside)  # where a SIGKILL between the two renames leaves it
    with pytest.raises(ExportError, match="not empty"):  # it is back, and overwrite was not asked for
        export_dataset(store, "davis", out)
    assert out.is_dir() and not aside.exists()
    assert export_dataset(store, "davis", out, overwrite=True).num_videos == 1


def test_clean_stale_leaves_live_and_foreign_folders_alone(tmp_path):
    (tmp_path / f".x.partial-{os.getpid()}-abc").mkdir()  # this process: an export in flight
    (tmp_path / ".x.partial-notapid").mkdir()  # not named by an export
    (tmp_path / ".x.partial-1").mkdir()  # no random part: not ours either
    (tmp_path / "x").mkdir()
    assert clean_stale(tmp_path, "x") == []
    assert len(list(tmp_path.iterdir())) == 4
    make_frames(tmp_path / "unused", num_frames=1)
