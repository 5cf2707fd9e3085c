"""The TFJS graph models `convert_real_models.py` can convert: what each one is (`ModelSpec`: file, input and
output names, licence, how a video frame becomes its input) and which are converted by default (the
Apache-2.0 ones). Kept apart from the conversion so the list reads on its own.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# A pedestrian in frame 100 of vtest.avi (x1, y1, x2, y2 in pixels, as both detectors find it); the
# segmenters are checked on a square crop around it, which is how the app feeds them.
CHECK_PERSON_BOX = (345, 200, 380, 275)

NANODET_MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
NANODET_STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)


@dataclass(frozen=True)
class ModelSpec:
    """One model of the package and how to check its conversion."""

    name: str  # stem of the written `<name>.onnx`
    package_path: str  # the TFJS model.json inside the tarball (weights sit beside it)
    inputs: tuple[str, ...]  # graph tensor names, kept as the ONNX input names
    outputs: tuple[str, ...]  # graph tensor names, kept as the ONNX output names
    make_check_input: Callable[[np.ndarray], np.ndarray]  # RGB uint8 frame -> model input
    tolerance: float  # largest |ONNX - TF| accepted on the check input, in output units
    origin: str  # where the weights come from before vladmandic converted them to TFJS
    licence: str  # licence of the weights as published upstream
    redistributable: bool  # licence allows committing the converted file here
    io_note: str  # input/output contract, copied into SOURCES.md


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    import tensorflow as tf

    resized = tf.image.resize(image.astype(np.float32), (height, width), method="bilinear")
    return resized.numpy()


def _letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """Keep the aspect ratio, scale the long side to `size`, pad right/bottom with zeros."""
    scale = size / max(image.shape[:2])
    height, width = round(image.shape[0] * scale), round(image.shape[1] * scale)
    canvas = np.zeros((size, size, 3), np.float32)
    canvas[:height, :width] = _resize(image, height, width)
    return canvas


def square_crop(frame: np.ndarray, box: tuple[int, int, int, int], margin: float = 1.3) -> np.ndarray:
    """Square crop centred on `box`, its side `margin` times the box's long side, zero outside."""
    x1, y1, x2, y2 = box
    side = round(max(x2 - x1, y2 - y1) * margin)
    left, top = round((x1 + x2 - side) / 2), round((y1 + y2 - side) / 2)
    crop = np.zeros((side, side, 3), frame.dtype)
    sx0, sy0 = max(left, 0), max(top, 0)
    sx1, sy1 = min(left + side, frame.shape[1]), min(top + side, frame.shape[0])
    crop[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = frame[sy0:sy1, sx0:sx1]
    return crop


def _nanodet_input(frame: np.ndarray) -> np.ndarray:
    bgr = _resize(frame, 416, 416)[..., ::-1]
    return ((bgr - NANODET_MEAN_BGR) / NANODET_STD_BGR).transpose(2, 0, 1)[None].astype(np.float32)


def _centernet_input(frame: np.ndarray) -> np.ndarray:
    return _letterbox(frame, 512)[None]


def _selfie_input(frame: np.ndarray) -> np.ndarray:
    return (_resize(square_crop(frame, CHECK_PERSON_BOX), 256, 256) / 255.0)[None]


def _meet_input(frame: np.ndarray) -> np.ndarray:
    return (_resize(square_crop(frame, CHECK_PERSON_BOX), 144, 256) / 255.0)[None]


MODELS = {
    "nanodet": ModelSpec(
        name="nanodet",
        package_path="package/models/nanodet.json",
        inputs=("input_1:0",),
        outputs=tuple(f"Identity{s}:0" for s in ("", "_1", "_2", "_3", "_4", "_5")),
        make_check_input=_nanodet_input,
        tolerance=1e-3,
        origin="RangiLyu/nanodet (https://github.com/RangiLyu/nanodet), COCO-80, PyTorch -> ONNX -> TF "
               "-> TFJS by vladmandic; 3.79M parameters, LeakyReLU, 416 input: matches NanoDet-g "
               "(3.81M), not NanoDet-m (0.95M)",
        licence="Apache-2.0 (RangiLyu/nanodet LICENSE)",
        redistributable=True,
        io_note="in `input_1:0` float32 [1,3,416,416] NCHW, BGR, (pixel - [103.53,116.28,123.675]) / "
                "[57.375,57.12,58.395]; out per stride 8/16/32 (52², 26², 13² cells, row-major): "
                "`Identity:0`/`Identity_1:0`/`Identity_2:0` [1,N,80] sigmoid class scores, "
                "`Identity_3:0`/`Identity_4:0`/`Identity_5:0` [1,N,44] GFL box logits (4 sides x 11 "
                "bins: softmax, expectation x stride = distance from cell centre ((i+0.5)·stride)); "
                "needs class-aware NMS (IoU 0.5); persons on vtest score 0.56-0.8, false ones <= 0.41",
    ),
    "selfie": ModelSpec(
        name="selfie",
        package_path="package/models/selfie.json",
        inputs=("input_1:0",),
        outputs=("activation_10:0",),
        make_check_input=_selfie_input,
        tolerance=1e-4,
        origin="Google ML Kit / MediaPipe Selfie Segmentation 256x256 "
               "(selfiesegmentation_mlkit-256x256-2021_01_19-v1215, via PINTO0309/PINTO_model_zoo "
               "109_Selfie_Segmentation)",
        licence="Apache-2.0 (selfie segmentation model card)",
        redistributable=True,
        io_note="in `input_1:0` float32 [1,256,256,3] NHWC, RGB, pixel / 255; out `activation_10:0` "
                "float32 [1,256,256,1], person probability 0..1 (sigmoid applied); segments every "
                "person in the crop",
    ),
    "centernet": ModelSpec(
        name="centernet",
        package_path="package/models/centernet.json",
        inputs=("tower_0/images:0",),
        outputs=("tower_0/detections:0",),
        make_check_input=_centernet_input,
        tolerance=1e-2,
        origin="610265158/mobilenetv3_centernet (https://github.com/610265158/mobilenetv3_centernet), "
               "mbv3-large-0.75 CenterNet trained on COCO, weights on the author's Google Drive",
        licence="none: the upstream repository has no licence file; human says models keep the "
                "licence of their source",
        redistributable=False,
        io_note="in `tower_0/images:0` float32 [1,512,512,3] NHWC, RGB 0..255, letterboxed (upstream "
                "pads with zeros); out `tower_0/detections:0` float32 [1,100,6] = x1,y1,x2,y2 in "
                "input pixels, score, 0-based COCO-80 class, top-100 heatmap peaks",
    ),
    "meet": ModelSpec(
        name="meet",
        package_path="package/models/meet.json",
        inputs=("input_1:0",),
        outputs=("segment:0",),
        make_check_input=_meet_input,
        tolerance=1e-3,
        origin="Google Meet segmentation (segm_full_v679, via PINTO0309/PINTO_model_zoo "
               "082_MediaPipe_Meet_Segmentation)",
        licence="disputed: first published with an Apache-2.0 model card, later relicensed by Google "
                "to its terms of service",
        redistributable=False,
        io_note="in `input_1:0` float32 [1,144,256,3] NHWC, RGB, pixel / 255; out `segment:0` float32 "
                "[1,144,256,2] logits (background, person): p = sigmoid(person - background)",
    ),
}
DEFAULT_MODELS = ("nanodet", "selfie")
