"""The long attack suite of issue 19: tries to break the core with hostile input and prints a summary table.

    python scripts/attack_suite.py                  # everything (a few minutes on 2 cores)
    python scripts/attack_suite.py --quick          # fewer SIGKILL trials
    python scripts/attack_suite.py --no-postgres    # SQLite only

Every attack ends one of four ways: a clear error (a DeRVOSError whose message names the cause), a correct
result (input that must work did), a wrong result (accepted what must be refused, refused what must work,
or stored data that disagrees with itself), or a traceback (any other exception: a bug). Durability trials
also count acknowledged data lost (a save the caller was told succeeded, missing afterwards). The fast
subset lives in tests/test_attacks_*.py. Exit status 1 when any traceback, wrong result or loss is found.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import pickle
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from derrvos_core.errors import DeRVOSError  # noqa: E402

FORK = multiprocessing.get_context("fork")
COLUMNS = ("attacks tried", "clear errors", "correct results", "wrong results", "tracebacks",
           "acknowledged data lost")


@dataclasses.dataclass
class Tally:
    """Outcomes of one category of attacks."""

    tried: int = 0
    clear: int = 0
    correct: int = 0
    wrong: int = 0
    tracebacks: int = 0
    lost: int = 0
    notes: list = dataclasses.field(default_factory=list)


TALLIES: dict[str, Tally] = defaultdict(Tally)


def attack(category: str, name: str, call, expect: str = "refuse") -> None:
    """Run `call()`; `expect` "refuse" (a DeRVOSError is right), "accept" (returning is right) or
    "either" (a damaged file that a decoder may conceal or refuse). Returns whether it came out right."""
    tally = TALLIES[category]
    tally.tried += 1
    try:
        call()
    except DeRVOSError as err:
        if expect in ("refuse", "either") and str(err).strip():
            tally.clear += 1
        else:
            tally.wrong += 1
            tally.notes.append(f"{name}: refused ({type(err).__name__}: {str(err)[:160]})")
    except Exception as err:  # noqa: BLE001  (that is the point: any other exception is a finding)
        tally.tracebacks += 1
        where = traceback.extract_tb(err.__traceback__)[-1]
        tally.notes.append(f"{name}: TRACEBACK {type(err).__name__}: {str(err)[:160]} "
                           f"({Path(where.filename).name}:{where.lineno})")
    else:
        if expect in ("accept", "either"):
            tally.correct += 1
        else:
            tally.wrong += 1
            tally.notes.append(f"{name}: accepted, should have been refused")


def checked(category: str, name: str, ok: bool, lost: int = 0, note: str = "") -> None:
    """Record a trial judged by its own check (durability, concurrency)."""
    tally = TALLIES[category]
    tally.tried += 1
    tally.lost += lost
    if ok and not lost:
        tally.correct += 1
    else:
        tally.wrong += 1
        tally.notes.append(f"{name}: {note or 'check failed'}")


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


# -- pickles, checkpoints, datasets --------------------------------------------------------------------------

class _Evil:
    def __init__(self, call, args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def malicious_pickles(category: str, workdir: Path) -> None:
    from derrvos_core.datasets.safe_pickle import load_plain_pickle

    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / "pwned"
    payloads = {
        "os.system": pickle.dumps([_Evil(os.system, (f"touch {marker}",))], protocol=2),
        "eval": pickle.dumps(_Evil(eval, ("1+1",)), protocol=2),
        "exec": pickle.dumps(_Evil(exec, ("import os",)), protocol=4),
        "getattr": pickle.dumps(_Evil(getattr, (1, "real")), protocol=2),
        "subprocess": b"\x80\x02csubprocess\nPopen\n(X\x04\x00\x00\x00trueq\x00\x85R.",
        "bytes bomb": b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x30\x85R.",
        "str bomb": b"\x80\x02c__builtin__\nstr\nJ\x00\x00\x00\x30\x85R.",
        "list of a bomb": b"\x80\x02c__builtin__\nlist\nc__builtin__\nbytes\nJ\x00\x00\x00\x30\x85R\x85R.",
        "dotted name": (b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins"
                        b"\x8c\rdict.fromkeys\x93."),
        "persistent id": b"\x80\x02X\x01\x00\x00\x00aQ.",
        "huge int digits": b"\x80\x02c__builtin__\nint\nX\x10\x27\x00\x00" + b"9" * 10000 + b"\x85R.",
        "truncated": pickle.dumps([{"a": 1}] * 10, protocol=2)[:-5],
        "garbage": os.urandom(256),
        "empty": b"",
        "kwargs call": b"\x80\x04c__builtin__\ndict\n)}\x8c\x01a\x4b\x01s\x92.",
    }
    for name, data in payloads.items():
        path = workdir / f"{name.replace(' ', '_')}.p"
        path.write_bytes(data)
        attack(category, f"pickle {name}", lambda p=path: load_plain_pickle(p))
    path = workdir / "plain.p"
    path.write_bytes(pickle.dumps([{"sent": "the car", "ids": (1, 2), "s": {1}}], protocol=2))
    attack(category, "plain refs pickle", lambda: load_plain_pickle(path), expect="accept")
    checked(category, "no pickle code ran", not marker.exists())


def malicious_checkpoints(category: str, workdir: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    from derrvos_core.model.catalog import SYNTHREF_MODEL
    from derrvos_core.model.checkpoint import load_checkpoint

    serial = iter(range(10_000))

    def variant(name, config=None, weights=None, files=None):
        folder = workdir / "ckpt" / f"c{next(serial)}"
        shutil.copytree(SYNTHREF_MODEL, folder)
        if config is not None:
            data = json.loads((folder / "config.json").read_text())
            config(data, folder)
            (folder / "config.json").write_text(json.dumps(data))
        if weights is not None:
            state = load_file(str(folder / "model.safetensors"))
            weights(state)
            save_file(state, str(folder / "model.safetensors"))
        if files is not None:
            files(folder)
        return folder

    def put(*keys, value):
        def change(data, _folder):
            node = data
            for key in keys[:-1]:
                node = node[key]
            node[keys[-1]] = value
        return change

    def poison(value):
        def change(state):
            key = sorted(state)[3]
            state[key] = state[key].clone()
            state[key].view(-1)[0] = value
        return change

    def outside_tokenizer(data, folder):
        shutil.copy(folder / "tokenizer.spm", folder.parent / f"{folder.name}.spm")
        data["checkpoint"]["tokenizer"] = f"../{folder.name}.spm"

    def symlinked_tokenizer(data, folder):
        shutil.copy(folder / "tokenizer.spm", folder.parent / f"{folder.name}.spm")
        (folder / "link.spm").symlink_to(folder.parent / f"{folder.name}.spm")
        data["checkpoint"]["tokenizer"] = "link.spm"

    configs = {
        "tracker heads 3": put("trajectory", "tracker", "num_heads", value=3),
        "refiner heads 7": put("trajectory", "refiner", "num_heads", value=7),
        "segmenter heads 3": put("trajectory", "segmenter", "num_heads", value=3),
        "beit3 heads 5": put("multimodal", "num_heads", value=5),
        "tais heads 5": put("tais", "num_heads", value=5),
        "ffn 2**31": put("trajectory", "tracker", "dim_feedforward", value=2**31),
        "beit3 ffn 2**20": put("multimodal", "ffn_dim", value=2**20),
        "vocab 2**40": put("multimodal", "vocab_size", value=2**40),
        "layers 10**6": put("multimodal", "num_layers", value=10**6),
        "depths 10**9": put("trajectory", "segmenter", "backbone", "depths", value=[1, 1, 1, 10**9]),
        "heads 4.0": put("trajectory", "tracker", "num_heads", value=4.0),
        "heads true": put("trajectory", "tracker", "num_heads", value=True),
        "negative width": put("trajectory", "segmenter", "hidden_dim", value=-64),
        "zero queries": put("trajectory", "segmenter", "num_queries", value=0),
        "nan eps": put("multimodal", "layernorm_eps", value=float("nan")),
        "input size text": put("input_size", value="big"),
        "input size 10**9": put("input_size", value=10**9),
        "threshold 2": put("threshold", value=2.0),
        "unknown key": put("surprise", value=1),
        "format 99": put("checkpoint", "format", value=99),
        "no checkpoint section": lambda d, f: d.pop("checkpoint"),
        "tokenizer /etc/passwd": put("checkpoint", "tokenizer", value="/etc/passwd"),
        "tokenizer ../": outside_tokenizer,
        "tokenizer symlink out": symlinked_tokenizer,
        "tokenizer not a name": put("checkpoint", "tokenizer", value={"x": 1}),
        "tokenizer missing": put("checkpoint", "tokenizer", value="gone.spm"),
        "name with NUL": put("name", value="evil\x00"),
    }
    for name, change in configs.items():
        attack(category, f"config {name}", lambda c=change, n=name: load_checkpoint(variant(n, config=c)))
    weights = {
        "NaN weight": poison(float("nan")),
        "inf weight": poison(float("inf")),
        "missing tensor": lambda s: s.pop(sorted(s)[0]),
        "extra tensor": lambda s: s.__setitem__("evil.weight", torch.zeros(1)),
        "wrong shape": lambda s: s.__setitem__(sorted(s)[2], torch.zeros(3, 3)),
        "int for float": lambda s: s.__setitem__(sorted(s)[2],
                                                 torch.zeros_like(s[sorted(s)[2]], dtype=torch.int32)),
    }
    for name, change in weights.items():
        attack(category, f"weights {name}", lambda c=change, n=name: load_checkpoint(variant(n, weights=c)))
    files = {
        "empty weights": lambda f: (f / "model.safetensors").write_bytes(b""),
        "garbage weights": lambda f: (f / "model.safetensors").write_bytes(os.urandom(4096)),
        "huge header length": lambda f: (f / "model.safetensors").write_bytes(b"\xff" * 7 + b"\x7f{}"),
        "pickle as weights": lambda f: (f / "model.safetensors").write_bytes(
            pickle.dumps(_Evil(os.system, ("id",)))),
        "no config": lambda f: (f / "config.json").unlink(),
        "config not JSON": lambda f: (f / "config.json").write_text("{nope"),
        "config nested 10**5": lambda f: (f / "config.json").write_text("[" * 100_000 + "]" * 100_000),
        "config 2 MB": lambda f: (f / "config.json").write_text(" " * (2 << 20)),
        "weights a folder": lambda f: ((f / "model.safetensors").unlink(), (f / "model.safetensors").mkdir()),
    }
    for name, change in files.items():
        attack(category, f"file {name}", lambda c=change, n=name: load_checkpoint(variant(n, files=c)))
    attack(category, "a file, not a folder", lambda: load_checkpoint(SYNTHREF_MODEL / "config.json"))
    attack(category, "shipped model", lambda: load_checkpoint(variant("good")), expect="accept")


def hostile_datasets(category: str, workdir: Path) -> None:
    from derrvos_core.datasets import read_mevis, read_refcoco
    from tests.fixtures import rvos_layouts as layouts

    workdir.mkdir(parents=True, exist_ok=True)
    for i, vid in enumerate(["../outside", "../../etc", "/etc", "a/b", "..", "C:x", "a\x00b"]):
        root = workdir / f"mevis{i}"
        layouts.write_mevis(root)
        meta_path = root / "train" / "meta_expressions.json"
        meta = json.loads(meta_path.read_text())
        meta["videos"][vid] = meta["videos"].pop("vid_a")
        meta_path.write_text(json.dumps(meta))
        attack(category, f"mevis video id {vid!r}",
               lambda r=root: [s.load_frames() for s in read_mevis(r, "train")])
    root = workdir / "mevis-mask"
    layouts.write_mevis(root)
    mask_path = root / "train" / "mask_dict.json"
    masks = json.loads(mask_path.read_text())
    masks[next(iter(masks))][0] = {"size": [10**6, 10**6], "counts": "0"}
    mask_path.write_text(json.dumps(masks))
    attack(category, "mevis 10**12-pixel mask", lambda: _all_samples(read_mevis(root, "train")))
    for i, change in enumerate([{"file_name": "../../../etc/passwd"}, {"file_name": "/etc/passwd"},
                                {"height": 10**6, "width": 10**6}]):
        root = workdir / f"refcoco{i}"
        layouts.write_refcoco(root)
        inst_path = root / "refcoco" / "instances.json"
        inst = json.loads(inst_path.read_text())
        inst["images"][0].update(change)
        inst_path.write_text(json.dumps(inst))
        attack(category, f"refcoco image {change}", lambda r=root: _all_samples(read_refcoco(r, "train")))
    root = workdir / "mevis-ok"
    layouts.write_mevis(root)
    attack(category, "plain mevis", lambda: [s.load_frames() for s in read_mevis(root, "train")],
           expect="accept")


def _all_samples(dataset) -> list:
    return [dataset[i] for i in range(len(dataset))]


# -- videos and typed input ----------------------------------------------------------------------------------

def black_video(path: Path, width: int, height: int, frames: int = 2, codec: str = "libx264") -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(np.full((height * 3 // 2, width), 16, np.uint8), format="yuv420p")
        for _ in range(frames):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def bad_videos(category: str, workdir: Path, model) -> None:
    from tests.helpers_video import make_video

    workdir.mkdir(parents=True, exist_ok=True)
    good = make_video(workdir / "good.mp4", num_frames=12, height=48, width=64)
    data = good.read_bytes()

    def seg(path):
        return lambda: model.segment(path, "the square", model.defaults.settings(crop_size=6))

    cases = {"empty.mp4": b"", "zeros.mp4": b"\x00" * 8192, "random.mp4": os.urandom(8192),
             "text.mp4": b"hello " * 500, "html.mp4": b"<html><body>not a video</body></html>" * 20,
             "jpeg-header.mp4": b"\xff\xd8\xff\xe0" + os.urandom(2000)}
    for cut in (0.1, 0.3, 0.5, 0.7, 0.9, 0.97):
        cases[f"cut{int(cut * 100)}.mp4"] = data[: int(len(data) * cut)]
    corrupt = bytearray(data)
    for i in range(len(corrupt) // 2, len(corrupt), 97):
        corrupt[i] ^= 0xFF
    cases["bitflips.mp4"] = bytes(corrupt)
    for name, content in cases.items():
        path = workdir / name
        path.write_bytes(content)
        # damage near the end or inside the frames may be concealed by the decoder: refusing is right too
        concealable = name in ("bitflips.mp4", "cut97.mp4")
        attack(category, f"video {name}", seg(path), expect="either" if concealable else "refuse")
    for w, h in ((17, 9), (33, 65), (3, 2), (1, 1)):
        odd = make_video(workdir / f"odd{w}x{h}.mkv", num_frames=5, height=h, width=w)  # ffv1: odd sizes
        attack(category, f"odd size {w}x{h}", seg(odd), expect="accept")
    attack(category, "8192x8192 (199 KB)", seg(black_video(workdir / "8k.mp4", 8192, 8192)))
    attack(category, "8192x4320 (8K UHD)", seg(black_video(workdir / "8kuhd.mp4", 8192, 4320)))
    attack(category, "3840x2160 (4K)", seg(black_video(workdir / "4k.mp4", 3840, 2160)), expect="accept")
    folder = workdir / "bomb-frames"
    folder.mkdir()
    Image.new("RGB", (12000, 12000)).save(folder / "00000.png")
    attack(category, "frame folder with a 12000x12000 PNG", seg(folder))
    mixed = workdir / "mixed-frames"
    mixed.mkdir()
    Image.new("RGB", (32, 32)).save(mixed / "00000.png")
    Image.new("RGB", (40, 32)).save(mixed / "00001.png")
    attack(category, "frame folder with two sizes", seg(mixed))
    notimg = workdir / "not-images"
    notimg.mkdir()
    (notimg / "00000.png").write_bytes(b"not a png")
    attack(category, "frame folder of broken PNGs", seg(notimg))
    (workdir / "empty-folder").mkdir()
    attack(category, "empty frame folder", seg(workdir / "empty-folder"))
    attack(category, "missing file", seg(workdir / "nope.mp4"))
    arrays = {"float array": np.zeros((2, 32, 32, 3), np.float32), "2-D array": np.zeros((32, 32), np.uint8),
              "no frames": np.zeros((0, 32, 32, 3), np.uint8),
              "4 channels": np.zeros((2, 32, 32, 4), np.uint8),
              "a list": [[1, 2]], "None": None}
    for name, value in arrays.items():
        attack(category, f"input {name}", lambda v=value: model.segment(v, "the square"))
    flipped = np.zeros((3, 40, 48, 3), np.uint8)[::-1, ::-1]
    attack(category, "negative strides", lambda: model.segment(flipped, "the square"), expect="accept")
    attack(category, "good mp4", seg(good), expect="accept")


def typed_input(category: str, model) -> None:
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    for text in ("\ud800", "the \udfff car", "\u200b\u200b", "\u200d\ufeff", "\x00", "\x00\x00", "a\x00b", "",
                 "   ", "\n\t", "x" * 100_000, b"bytes", None, 42, ["list"]):
        attack(category, f"expression {str(text)[:10]!r}", lambda t=text: model.segment(frames, t))
    for kwargs in ({"threshold": "abc"}, {"threshold": 1j}, {"threshold": float("nan")}, {"threshold": -0.1},
                   {"threshold": True}, {"threshold": [0.5]}, {"crop_size": 1e308}, {"crop_size": 10**308},
                   {"crop_size": True}, {"crop_size": 0}, {"crop_size": -3}, {"crop_size": 2.5},
                   {"crop_size": "36"}, {"crop_size": float("inf")}, {"link_crops": "no"}):
        attack(category, f"settings {kwargs}", lambda k=kwargs: model.defaults.settings(**k))
    attack(category, "crop size 90000 (crop memory)", lambda: model.segment(
        np.zeros((2, 2, 2, 3), np.uint8), "x", model.defaults.settings(crop_size=90_000)), expect="accept")
    attack(category, "unicode expression", lambda: model.segment(frames, "l'homme à gauche 日本 🚗"),
           expect="accept")


# -- the table -----------------------------------------------------------------------------------------------

def table() -> str:
    rows = [("category",) + COLUMNS]
    total = Tally()
    for name, t in TALLIES.items():
        rows.append((name, t.tried, t.clear, t.correct, t.wrong, t.tracebacks, t.lost))
        for field in ("tried", "clear", "correct", "wrong", "tracebacks", "lost"):
            setattr(total, field, getattr(total, field) + getattr(t, field))
    rows.append(("**total**", total.tried, total.clear, total.correct, total.wrong, total.tracebacks,
                 total.lost))
    lines = ["| " + " | ".join(str(c) for c in rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer SIGKILL trials (20 SQLite, 5 PostgreSQL)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL trials")
    args = parser.parse_args(argv)
    sqlite_kills, pg_kills, export_kills = (20, 5, 3) if args.quick else (80, 25, 10)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="derrvos-attacks-") as tmp:
        work = Path(tmp)
        from tests.pg import pg_binaries, postgres_server

        # store work first: writers are forked, before torch starts its threads
        kill_trials("SIGKILL mid-save, SQLite", f"sqlite:///{work / 'kill.db'}", sqlite_kills, work / "k")
        counter = iter(range(1000))
        concurrent_trials("concurrent writers, SQLite",
                          lambda: f"sqlite:///{work / f'conc{next(counter)}.db'}", work / "c")
        store_values("values the store cannot hold, SQLite", work / "v", f"sqlite:///{work / 'values.db'}")
        full_disk("full disk on save, SQLite", work / "fd")
        unopenable_store("stores that cannot be opened", work)
        if not args.no_postgres and pg_binaries() is not None:
            with postgres_server() as server:
                kill_trials("SIGKILL mid-save, PostgreSQL", server.create_database(), pg_kills, work / "pk")
                concurrent_trials("concurrent writers, PostgreSQL", server.create_database, work / "pc")
                store_values("values the store cannot hold, PostgreSQL", work / "pv",
                             server.create_database())
        hostile_exports("hostile names x export formats", work / "n")
        killed_exports("SIGKILLed exports", work / "e", export_kills)
        malicious_pickles("malicious pickles", work / "p")
        malicious_checkpoints("malicious checkpoints", work / "m")
        hostile_datasets("hostile dataset files", work / "d")
        from derrvos_core.model.catalog import load_model

        model = load_model("synthref")  # the tiny model: the attacks are on the inputs, not the model
        bad_videos("bad videos (Python API)", work / "bv", model)
        typed_input("expressions and settings", model)
    print(table())
    notes = [f"- {name}: {note}" for name, t in TALLIES.items() for note in t.notes]
    if notes:
        print("\nFindings:\n" + "\n".join(notes))
    print(f"\n{sum(t.tried for t in TALLIES.values())} attacks in {time.monotonic() - started:.0f} s "
          f"(python scripts/attack_suite.py{' --quick' if args.quick else ''})")
    bad = sum(t.wrong + t.tracebacks + t.lost for t in TALLIES.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
