"""Attacks on the store and the exports (scripts/attack_suite.py): SIGKILLed and concurrent writers,
values the store cannot hold, a full disk, stores that cannot be opened, hostile names in every export
format and SIGKILLed exports.
"""
from __future__ import annotations

import dataclasses
import os
import random
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from attack_tally import FORK, TALLIES, attack, checked  # noqa: E402


# -- store: SIGKILL and concurrent writers ------------------------------------------------------------------

def unopenable_store(category: str, workdir: Path) -> None:
    from derrvos_core.store import Store

    attack(category, "database in a missing folder", lambda: Store.open(workdir / "no" / "such" / "x.db"))
    attack(category, "database that is a folder", lambda: Store.open(workdir))
    (workdir / "junk.db").write_bytes(os.urandom(4096))
    attack(category, "database file of garbage", lambda: Store.open(workdir / "junk.db"))
    attack(category, "unknown backend URL", lambda: Store.open("nosuchdb://x/y"))
    attack(category, "PostgreSQL server that is down", lambda: Store.open("postgresql+psycopg://u@127.0.0.1:1/x"))


def kill_trials(category: str, url: str, kills: int, workdir: Path) -> None:
    from sqlalchemy import create_engine

    from derrvos_core.store import Store
    from tests.test_store import seeded_store
    from tests.test_store_durability import check_acknowledged, read_acks, start_writer

    store, run_id = seeded_store(Store.open(url), workdir / "frames")
    store.engine.dispose()
    rng = random.Random(19)
    acknowledged = []
    for round_ in range(kills):
        process, read_fd = start_writer(url, run_id, f"k{round_}", count=10_000)
        acknowledged += read_acks(read_fd, want=rng.randint(1, 3), timeout=120)
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        acknowledged += read_acks(read_fd, want=None, timeout=120)
        os.close(read_fd)
        stored = {c.id for c in store.corrections(run_id)}
        lost = [a for a in acknowledged if a[0] not in stored]
        checked(category, f"kill {round_}", not lost, lost=len(lost), note=f"{len(lost)} acknowledged lost")
        acknowledged = [a for a in acknowledged if a[0] in stored]
    try:
        check_acknowledged(store, run_id, acknowledged)
        intact = True
    except AssertionError:
        intact = False
    if url.startswith("sqlite"):
        with create_engine(url).connect() as connection:
            intact = intact and connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    checked(category, "integrity after the kills", intact, note="integrity or content check failed")
    store.close()


def concurrent_trials(category: str, url_factory, workdir: Path, sizes=(2, 4, 8), count: int = 10) -> None:
    from derrvos_core.store import Store
    from tests.test_attacks_store import replay_disagreements
    from tests.test_store import seeded_store
    from tests.test_store_durability import read_acks, start_writer

    for n in sizes:
        url = url_factory()
        store, run_id = seeded_store(Store.open(url), workdir / f"frames-{n}")
        store.engine.dispose()
        writers = [start_writer(url, run_id, f"w{n}-{i}", count) for i in range(n)]
        acknowledged = []
        for process, read_fd in writers:
            acknowledged += read_acks(read_fd, want=None, timeout=300)
            process.join(timeout=120)
            os.close(read_fd)
        stored = {c.id for c in store.corrections(run_id)}
        lost = [a for a in acknowledged if a[0] not in stored]
        wrong = replay_disagreements(store, run_id)
        checked(category, f"{n} writers", not wrong and len(acknowledged) == n * count, lost=len(lost),
                note=f"{len(lost)} lost, {len(wrong)} result_rle snapshots disagree with a replay")
        store.close()


def store_values(category: str, workdir: Path, url: str) -> None:
    from derrvos_core.store import RunContext, Store
    from tests.test_store import box, make_result, seeded_store

    def stroke_mask():
        return box(2, 2)

    store, run_id = seeded_store(Store.open(url), workdir / "frames")
    video = store.videos()[0]
    result = make_result()
    nan = dataclasses.replace(result, trajectories=(
        dataclasses.replace(result.trajectories[0], score=float("nan")),) + result.trajectories[1:])
    for text in ("a\x00b", "\x00", "\ud800", "\u200b\u200b", "", " ", "x" * 5000):
        attack(category, f"expression {text[:8]!r}", lambda t=text: store.save_run(video, t, result, "v1"))
    for user in ("a\x00", "u" * 201, "", "\u200b", "\udc00"):
        attack(category, f"user {user[:8]!r}", lambda u=user: store.draw(run_id, 0, stroke_mask(), user=u))
    for version in ("v" * 201, "v\x00", ""):
        attack(category, f"model version {version[:8]!r}",
               lambda v=version: store.save_run(video, "e", result, v))
    attack(category, "model name 201",
           lambda: store.save_run(video, "e", result, "v", RunContext(model_name="m" * 201)))
    attack(category, "NaN scores", lambda: store.save_run(video, "e", nan, "v"))
    attack(category, "NaN threshold", lambda: store.set_threshold(run_id, float("nan"), user="u"))
    attack(category, "threshold text", lambda: store.set_threshold(run_id, "abc", user="u"))
    attack(category, "huge run id", lambda: store.load_run(2**70))
    attack(category, "plain save", lambda: store.save_run(video, "the left square", result, "v1"),
           expect="accept")
    store.close()


def full_disk(category: str, workdir: Path) -> None:
    from sqlalchemy import event

    from derrvos_core.store import Store
    from tests.test_store import make_result, seeded_store

    workdir.mkdir(parents=True, exist_ok=True)
    store, _ = seeded_store(Store.open(workdir / "full.db"), workdir / "frames-full")
    store.engine.dispose()
    with store.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    store.engine.dispose()
    event.listen(store.engine, "connect", lambda c, _r: c.execute(f"PRAGMA max_page_count={pages}"))
    runs_before = store.count("runs")

    def fill():
        for i in range(100):
            store.save_run(store.videos()[0], f"expression {i} " + "x" * 800, make_result(), "v1")
    attack(category, "save on a full disk", fill)
    checked(category, "store intact after the full disk", store.count("runs") >= runs_before)
    store.close()


# -- exports -----------------------------------------------------------------------------------------------

HOSTILE_NAMES = ["...", "..", ".", "-rf", "--help", "日本語 ビデオ", "line\nbreak", "tab\tname", "CON",
                 "nul.txt",
                 "aux", ".hidden", "..evil", "../../etc", "/abs/path", "a/b/c", "a\\b", "C:evil", "x" * 300,
                 "é" * 200, "\u202eevil", "emoji 🎬", "quote\"s", "semi;colon", "$(rm -rf)", "`id`", "a*b?",
                 "<tag>", "pipe|name", "trailing.", "trailing ", " leading", "NUL", "COM1", "LPT9",
                 "\x01ctrl"]


def _noise_frames(folder: Path, seed: int, num_frames: int = 6) -> Path:
    """A frame folder of 32 x 24 PNGs whose content is unique to `seed`."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(num_frames):
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    return folder


def hostile_exports(category: str, workdir: Path) -> None:
    from derrvos_core.store import Store
    from derrvos_core.store.export import FORMATS, export_dataset
    from tests.test_store import make_result

    workdir.mkdir(parents=True, exist_ok=True)
    store = Store.open(workdir / "names.db")
    for seed, name in enumerate(HOSTILE_NAMES):
        try:  # the folder's own name is the hostile one (where the filesystem allows it)
            if name in (".", "..") or "/" in name:
                raise OSError("not a folder name")
            folder = _noise_frames(workdir / "videos" / f"v{seed}" / name, seed)
        except OSError:
            folder = _noise_frames(workdir / "videos" / f"v{seed}" / f"fallback{seed}", seed)
        video = store.add_video(folder, fps=10, num_frames=6, height=24, width=32)
        store.save_run(video, f"the {name[:40]} square".replace("\x00", ""), make_result(), "tiny@1")
    for fmt in FORMATS:
        out = workdir / "exports" / fmt
        before = set(os.listdir(workdir))

        def run(out=out, before=before, fmt=fmt):
            report = export_dataset(store, fmt, out)
            escaped = [p for p in out.rglob("*") if out.resolve() not in p.resolve().parents]
            strays = set(os.listdir(workdir)) - before - {"exports"}
            if escaped or strays or report.num_videos != len(HOSTILE_NAMES):
                raise AssertionError(f"wrote outside the export or lost videos: {escaped[:3]}")
        tally = TALLIES[category]
        good_before = tally.correct
        attack(category, f"{len(HOSTILE_NAMES)} hostile names as {fmt}", run, expect="accept")
        tally.tried += len(HOSTILE_NAMES) - 1  # one attack per name and format
        if tally.correct > good_before:
            tally.correct += len(HOSTILE_NAMES) - 1
        else:
            tally.wrong += len(HOSTILE_NAMES) - 1
    attack(category, "overwrite the store's folder", lambda: export_dataset(store, "davis", workdir,
                                                                            overwrite=True))
    store.close()


def killed_exports(category: str, workdir: Path, kills: int) -> None:
    from derrvos_core.store import Store
    from derrvos_core.store.export import export_dataset
    from tests.test_attacks_store import slow_export
    from tests.test_store import seeded_store

    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'kill-export.db'}"
    store, _ = seeded_store(Store.open(url), workdir / "frames-export")
    store.engine.dispose()
    out = workdir / "killed" / "davis"
    for round_ in range(kills):
        process = FORK.Process(target=slow_export, args=(url, str(out)), daemon=True)
        process.start()
        deadline = time.monotonic() + 60
        while not list(out.parent.glob(".davis.partial-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(random.uniform(0.0, 0.2))
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        stale = len(list(out.parent.glob(".davis.*")))
        export_dataset(store, "davis", out, overwrite=out.exists())
        left = sorted(p.name for p in out.parent.iterdir())
        checked(category, f"export killed {round_}", stale >= 1 and left == ["davis"],
                note=f"{stale} hidden folders after the kill; left behind after the next export: {left}")
    store.close()
