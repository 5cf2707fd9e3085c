"""Our checkpoint format: a folder with model.safetensors, config.json, tokenizer.spm and MODEL_CARD.md.

Loading is strict: every tensor must be present with the model's shape, nothing extra, and the
config must rebuild the same model; anything else is a CheckpointError that names the cause.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from derrvos_core.errors import CheckpointError, InputError

from .config import DeRVOSConfig
from .derrvos import DeRVOS, weights_hash

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.spm"
CARD = "MODEL_CARD.md"
#: Bumped when the folder layout changes; stored under config.json's "checkpoint" key.
FORMAT_VERSION = 1
#: Where the shipped tiny model lives, relative to the repository (found from the package, not the CWD).
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "assets" / "models" / "derrvos-tiny-synthref"


def save_model(model: DeRVOS, directory: str | Path, card_text: str | None = None,
               dtype: torch.dtype = torch.float32) -> Path:
    """Write the model folder; `dtype=torch.float16` halves the size for shipping (loads back as fp32)."""
    if model.cfg is None:
        raise InputError("this model was assembled from parts, not built from a DeRVOSConfig: "
                         "it has no config.json to save")
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise InputError(f"checkpoint dtype must be float32, float16 or bfloat16, got {dtype}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: _cast(v.detach().cpu().contiguous(), dtype) for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS))
    tokenizer = model.multimodal.tokenizer_path
    if tokenizer is not None and tokenizer.resolve() != (out / TOKENIZER).resolve():
        shutil.copyfile(tokenizer, out / TOKENIZER)
    meta = {"format": FORMAT_VERSION, "tokenizer": TOKENIZER if tokenizer else None,
            "dtype": str(dtype).removeprefix("torch.")}
    (out / CONFIG).write_text(json.dumps({**model.cfg.to_dict(), "checkpoint": meta}, indent=2))
    version = f"{model.cfg.name}-{_saved_hash(out)}" if dtype != torch.float32 else model.refresh_version()
    (out / CARD).write_text(card_text if card_text is not None else default_card(model, version))
    return out


def load_model(path_or_name: str | Path = "default", device: str | torch.device = "cpu") -> DeRVOS:
    """A DeRVOS model from a checkpoint folder, or "default" for the shipped tiny model; in eval mode."""
    folder = resolve_checkpoint(path_or_name)
    cfg, tokenizer = read_config(folder)
    try:
        model = DeRVOS.from_config(cfg, tokenizer_path=tokenizer)
    except InputError as err:
        raise CheckpointError(f"{folder / TOKENIZER}: {err}") from err
    load_weights(model, folder / WEIGHTS)
    try:
        model.to(torch.device(device))
    except (RuntimeError, AssertionError) as err:
        raise InputError(f"device {device!r} is not usable here: {err}") from err
    return model.eval()


def resolve_checkpoint(path_or_name: str | Path) -> Path:
    """The checkpoint folder a path or name means; CheckpointError when it is not there."""
    if str(path_or_name) == "default":
        if not (DEFAULT_MODEL / WEIGHTS).is_file():
            raise CheckpointError(f"the default model is not in {DEFAULT_MODEL} yet: train it with training/ "
                                  f"or pass a checkpoint folder")
        return DEFAULT_MODEL
    folder = Path(path_or_name)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such checkpoint folder (expected {WEIGHTS} and {CONFIG} in it)")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: a checkpoint is a folder with {WEIGHTS} and {CONFIG}, not a file")
    missing = [name for name in (WEIGHTS, CONFIG) if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: missing {', '.join(missing)}")
    return folder


def read_config(folder: Path) -> tuple[DeRVOSConfig, Path | None]:
    """The model config and the tokenizer file named by `config.json`."""
    path = folder / CONFIG
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not readable JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("checkpoint"), dict):
        raise CheckpointError(f"{path}: not a DeRVOS checkpoint config (no 'checkpoint' section)")
    meta = data.pop("checkpoint")
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, "
                              f"this code reads {FORMAT_VERSION}")
    try:
        cfg = DeRVOSConfig.from_dict(data)
    except InputError as err:
        raise CheckpointError(f"{path}: {err}") from err
    tokenizer = None
    if meta.get("tokenizer"):
        tokenizer = folder / meta["tokenizer"]
        if not tokenizer.is_file():
            raise CheckpointError(f"{folder}: config.json names the tokenizer {meta['tokenizer']}, "
                                  "which is missing")
    return cfg, tokenizer


def load_weights(model: DeRVOS, path: Path) -> None:
    """Strictly load `model.safetensors` (any float dtype; cast to the model's)."""
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from err
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit the model its config.json describes",
                              missing=missing, unexpected=unexpected)
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if state[k].shape != v.shape]
    if wrong:
        raise CheckpointError(f"{path}: tensors of the wrong shape for the config: {'; '.join(wrong[:8])}"
                              + (f" (+{len(wrong) - 8} more)" if len(wrong) > 8 else ""))
    model.load_state_dict({k: state[k].to(v.dtype) for k, v in expected.items()}, strict=True)
    model.refresh_version()


def default_card(model: DeRVOS, version: str) -> str:
    cfg = model.cfg
    counts = {name: sum(p.numel() for p in part.parameters())
              for name, part in (("trajectory", model.trajectory), ("multimodal", model.multimodal),
                                 ("tais", model.tais))}
    lines = [f"# {cfg.name}", "", f"Version: `{version}`", "",
             "DeRVOS: DVIS++ trajectories + BEiT-3 (frame, expression) tokens, scored by TAIS "
             f"({cfg.tais.num_layers} layers x {cfg.tais.width}).", "",
             "| part | parameters |", "|---|---|"]
    lines += [f"| {name} | {n / 1e6:.2f} M |" for name, n in counts.items()]
    lines += ["", f"Input {cfg.input_size} px (trajectory branch), {cfg.multimodal_image_size} px (BEiT-3); "
              f"top-K {cfg.top_k}; text {cfg.max_text_len} ids; defaults crop {cfg.crop_size}, "
              f"threshold {cfg.threshold}.",
              "Tokenizer: " + ("sentencepiece (tokenizer.spm)." if model.multimodal.tokenizer_path
                               else "UTF-8 bytes."),
              "",
              "Training data and results: not recorded (random or untracked weights).", ""]
    return "\n".join(lines)


def _cast(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def _saved_hash(folder: Path) -> str:
    """The version hash a folder's (reduced-precision) weights will have once loaded as fp32."""
    state = load_file(str(folder / WEIGHTS))
    return weights_hash({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
