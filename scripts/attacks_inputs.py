"""Attacks through files and the Python API (scripts/attack_suite.py): malicious pickles and checkpoints,
hostile dataset files, corrupt, truncated, empty, odd and huge videos, and hostile expressions and settings.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from attack_tally import attack, checked  # noqa: E402


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
