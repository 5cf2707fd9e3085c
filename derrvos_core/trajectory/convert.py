"""Official DVIS++ (detectron2) checkpoints -> our `TrajectoryGenerator`, loaded strictly.

Official keys: `backbone.*` (detectron2 ResNet, FrozenBN), `sem_seg_head.pixel_decoder.*`
(MSDeformAttn pixel decoder), `sem_seg_head.predictor.*` (masked-attention decoder + re-id MLP),
`criterion.empty_weight`, `tracker.*`, `refiner.*`; bare or under "model". The segmenter lives in
transformers' Mask2Former here, so its keys are renamed (and the decoder self-attention's packed
`in_proj` is split into q/k/v); the tracker and refiner keep the official names.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..strict_load import load_strict
from .generator import TrajectoryGenerator

_M2F = "segmenter.mask2former."
_BACKBONE = _M2F + "model.pixel_level_module.encoder."
_PIXEL = _M2F + "model.pixel_level_module.decoder."
_PRED = _M2F + "model.transformer_module."

# official key prefixes (regex)
_RES = r"^backbone\.res(\d)\.(\d+)\."
_PD = r"^sem_seg_head\.pixel_decoder\."
_ENC = _PD + r"transformer\.encoder\.layers\.(\d+)\."
_PR = r"^sem_seg_head\.predictor\."
_SA, _CA, _FF = (_PR + rf"transformer_{n}_layers\.(\d+)\."
                 for n in ("self_attention", "cross_attention", "ffn"))
_STAGE = _BACKBONE + r"encoder.stages.<S\1>.layers.\2."
_LAYER = _PRED + r"decoder.layers.\1."

# (official pattern, our replacement) applied in order; the first match wins.
_RULES: list[tuple[str, str]] = [
    # backbone: detectron2 ResNet -> transformers ResNetBackbone
    (r"^backbone\.stem\.conv1\.weight$", _BACKBONE + "embedder.embedder.convolution.weight"),
    (r"^backbone\.stem\.conv1\.norm\.(\w+)$", _BACKBONE + r"embedder.embedder.normalization.\1"),
    (_RES + r"shortcut\.weight$", _STAGE + "shortcut.convolution.weight"),
    (_RES + r"shortcut\.norm\.(\w+)$", _STAGE + r"shortcut.normalization.\3"),
    (_RES + r"conv(\d)\.weight$", _STAGE + r"layer.<C\3>.convolution.weight"),
    (_RES + r"conv(\d)\.norm\.(\w+)$", _STAGE + r"layer.<C\3>.normalization.\4"),
    # pixel decoder
    (_PD + r"input_proj\.(\d)\.([01])\.(\w+)$", _PIXEL + r"input_projections.\1.\2.\3"),
    (_PD + r"transformer\.level_embed$", _PIXEL + "level_embed"),
    (_ENC + r"self_attn\.(\w+)\.(\w+)$", _PIXEL + r"encoder.layers.\1.self_attn.\2.\3"),
    (_ENC + r"norm1\.(\w+)$", _PIXEL + r"encoder.layers.\1.self_attn_layer_norm.\2"),
    (_ENC + r"linear1\.(\w+)$", _PIXEL + r"encoder.layers.\1.fc1.\2"),
    (_ENC + r"linear2\.(\w+)$", _PIXEL + r"encoder.layers.\1.fc2.\2"),
    (_ENC + r"norm2\.(\w+)$", _PIXEL + r"encoder.layers.\1.final_layer_norm.\2"),
    (_PD + r"mask_features\.(\w+)$", _PIXEL + r"mask_projection.\1"),
    (_PD + r"(adapter|layer)_(\d)\.weight$", _PIXEL + r"\1_\2.0.weight"),
    (_PD + r"(adapter|layer)_(\d)\.norm\.(\w+)$", _PIXEL + r"\1_\2.1.\3"),
    # masked-attention decoder (self-attention in_proj handled in _split_in_proj)
    (_SA + r"self_attn\.out_proj\.(\w+)$", _LAYER + r"self_attn.out_proj.\2"),
    (_SA + r"norm\.(\w+)$", _LAYER + r"self_attn_layer_norm.\2"),
    (_CA + r"multihead_attn\.(.+)$", _LAYER + r"cross_attn.\2"),
    (_CA + r"norm\.(\w+)$", _LAYER + r"cross_attn_layer_norm.\2"),
    (_FF + r"linear1\.(\w+)$", _LAYER + r"fc1.\2"),
    (_FF + r"linear2\.(\w+)$", _LAYER + r"fc2.\2"),
    (_FF + r"norm\.(\w+)$", _LAYER + r"final_layer_norm.\2"),
    (_PR + r"decoder_norm\.(\w+)$", _PRED + r"decoder.layernorm.\1"),
    (_PR + r"query_feat\.weight$", _PRED + "queries_features.weight"),
    (_PR + r"query_embed\.weight$", _PRED + "queries_embedder.weight"),
    (_PR + r"level_embed\.weight$", _PRED + "level_embed.weight"),
    (_PR + r"class_embed\.(\w+)$", _M2F + r"class_predictor.\1"),
    (_PR + r"mask_embed\.layers\.(\d)\.(\w+)$", _PRED + r"decoder.mask_predictor.mask_embedder.\1.0.\2"),
    (_PR + r"reid_embed\.layers\.(\d)\.(\w+)$", r"segmenter.reid_embed.layers.\1.\2"),
    (r"^criterion\.empty_weight$", _M2F + "criterion.empty_weight"),
    # tracker and refiner keep their names
    (r"^(tracker|refiner)\.(.+)$", r"\1.\2"),
]
_COMPILED = [(re.compile(p), r) for p, r in _RULES]
_IN_PROJ = re.compile(_SA + r"self_attn\.in_proj_(weight|bias)$")


def _rename(key: str) -> str | None:
    for pattern, repl in _COMPILED:
        if pattern.match(key):
            new = pattern.sub(repl, key)
            # detectron2 res2..res5 -> stages 0..3; conv1..3 -> layer 0..2
            new = re.sub(r"<S(\d)>", lambda m: str(int(m.group(1)) - 2), new)
            return re.sub(r"<C(\d)>", lambda m: str(int(m.group(1)) - 1), new)
    return None


def _split_in_proj(key: str, value: torch.Tensor) -> dict[str, torch.Tensor] | None:
    """nn.MultiheadAttention packs q, k, v in that order; transformers keeps three Linear layers."""
    m = _IN_PROJ.match(key)
    if m is None:
        return None
    layer, kind = m.groups()
    q, k, v = value.chunk(3, dim=0)
    base = _PRED + f"decoder.layers.{layer}.self_attn."
    return {f"{base}q_proj.{kind}": q, f"{base}k_proj.{kind}": k, f"{base}v_proj.{kind}": v}


def convert_dvis_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official DVIS++ state dict (bare or under "model") to our module keys.

    Raises:
        CheckpointError naming every key that has no place in our model.
    """
    if "model" in state_dict and isinstance(state_dict["model"], Mapping):
        state_dict = state_dict["model"]
    out: dict[str, torch.Tensor] = {}
    unexpected = []
    for key, value in state_dict.items():
        split = _split_in_proj(key, value)
        if split is not None:
            out.update(split)
            continue
        new = _rename(key)
        if new is None:
            unexpected.append(key)
        else:
            out[new] = value
    if unexpected:
        raise CheckpointError("official DVIS++ checkpoint has keys we cannot place", unexpected=unexpected)
    return out


def load_official_dvis(path_or_state_dict: str | Path | Mapping[str, torch.Tensor],
                       generator: TrajectoryGenerator) -> TrajectoryGenerator:
    """Load an official DVIS++ checkpoint (a `.pth` path or a state dict) into `generator`, strictly.

    Files are read with `torch.load(..., weights_only=True)`: no pickled code runs.
    """
    if isinstance(path_or_state_dict, (str, Path)):
        path = Path(path_or_state_dict)
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        try:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling refused or corrupt file
            raise CheckpointError(f"cannot read {path} as a weights-only torch checkpoint: {exc}") from exc
    else:
        state_dict = path_or_state_dict
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"checkpoint is a {type(state_dict).__name__}, not a state dict")
    load_strict(generator, convert_dvis_state_dict(state_dict), "official DVIS++ checkpoint")
    return generator
