"""Our checkpoint format: a folder with model.safetensors, config.json, tokenizer.spm and MODEL_CARD.md.

Loading is strict: every tensor must be present with the model's shape, nothing extra, and the
config must rebuild the same model; anything else is a CheckpointError that names the cause.
Everything is checked before the model is built: the config's fields (`validation.config_fields`:
ranges, heads that divide widths), the size of the model it describes (built on the meta device, which
allocates nothing: at most MAX_PARAMETERS), the tokenizer (inside the folder), and the weights' names,
shapes, dtypes and finiteness (read tensor by tensor from the file).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from derrvos_core.errors import CheckpointError, InputError
from derrvos_core.strict_load import check_fits, load_strict
from derrvos_core.validation import check_heads, config_fields, heads_divide

from .config import DeRVOSConfig
from .derrvos import DeRVOS, weights_hash

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.spm"
CARD = "MODEL_CARD.md"
#: Bumped when the folder layout changes; stored under config.json's "checkpoint" key.
FORMAT_VERSION = 1
#: Most parameters (and buffers) a checkpoint's config may describe: 2e9 (8 GB in float32), four times
#: the full DeRVOS (DVIS++ R50 + BEiT-3 base + TAIS). A config past it is refused before anything is built.
MAX_PARAMETERS = 2_000_000_000
#: Largest config.json read (a real one is about 3 KB).
MAX_CONFIG_BYTES = 1 << 20


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


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> DeRVOS:
    """The DeRVOS model saved in a checkpoint folder (a path, never a name: shipped models by name are
    `catalog.load_model`'s), checked strictly, on `device`, in eval mode."""
    folder = checkpoint_folder(folder)
    cfg, tokenizer = read_config(folder)
    expected = planned_state(cfg, tokenizer, folder)
    state = read_weights(folder / WEIGHTS, expected)
    try:
        model = DeRVOS.from_config(cfg, tokenizer_path=tokenizer)
    except InputError as err:
        raise CheckpointError(f"{folder / TOKENIZER}: {err}") from err
    _load_checked(model, state)
    try:
        model.to(torch.device(device))
    except (RuntimeError, AssertionError) as err:
        raise InputError(f"device {device!r} is not usable here: {err}") from err
    return model.eval()


def checkpoint_folder(path: str | Path) -> Path:
    """`path` as a checkpoint folder holding its weights and config; CheckpointError when it is not one."""
    folder = Path(path)
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
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{path}: {path.stat().st_size} bytes; a config is at most "
                                  f"{MAX_CONFIG_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"{path}: not readable JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("checkpoint"), dict):
        raise CheckpointError(f"{path}: not a DeRVOS checkpoint config (no 'checkpoint' section)")
    meta = data.pop("checkpoint")
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, "
                              f"this code reads {FORMAT_VERSION}")
    try:
        config_fields(DeRVOSConfig, data, "config")
        cfg = DeRVOSConfig.from_dict(data)
        check_config(cfg)
    except (InputError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path}: {err}") from err
    return cfg, _tokenizer(folder, meta.get("tokenizer"))


def check_config(cfg: DeRVOSConfig) -> None:
    """InputError naming the field when a head count of `cfg` does not divide the width it splits (the
    values themselves were checked on the JSON, `validation.config_fields`)."""
    check_heads(cfg, "config")
    width = cfg.trajectory.embed_dim
    heads_divide(width, cfg.trajectory.tracker.num_heads, "config.trajectory.tracker.num_heads")
    heads_divide(width, cfg.trajectory.refiner.num_heads, "config.trajectory.refiner.num_heads")


def _tokenizer(folder: Path, name) -> Path | None:
    """The tokenizer file config.json names: a file inside the checkpoint folder, or None."""
    if not name:
        return None
    if not isinstance(name, str) or "\x00" in name:
        raise CheckpointError(f"{folder / CONFIG}: the tokenizer must be a file name, got {name!r}")
    root = folder.resolve()
    tokenizer = (folder / name).resolve()
    if root not in tokenizer.parents:
        raise CheckpointError(f"{folder / CONFIG}: the tokenizer {name!r} is outside the checkpoint folder; "
                              f"a checkpoint reads only its own files (put it beside config.json)")
    if not tokenizer.is_file():
        raise CheckpointError(f"{folder}: config.json names the tokenizer {name}, which is missing")
    return tokenizer


def planned_state(cfg: DeRVOSConfig, tokenizer: Path | None, folder: Path) -> dict[str, torch.Tensor]:
    """The state dict `cfg` builds, as meta tensors (names, shapes, dtypes; no memory): CheckpointError
    when the config does not build a model or describes one over MAX_PARAMETERS."""
    try:
        with torch.device("meta"):
            state = DeRVOS.from_config(cfg, tokenizer_path=tokenizer).state_dict()
    except InputError as err:
        raise CheckpointError(f"{folder / TOKENIZER}: {err}") from err
    except (AssertionError, ValueError, TypeError, RuntimeError, IndexError, ZeroDivisionError) as err:
        raise CheckpointError(f"{folder / CONFIG}: the config does not describe a buildable model ({err})") \
            from err
    count = sum(t.numel() for t in state.values())
    if count > MAX_PARAMETERS:
        raise CheckpointError(f"{folder / CONFIG}: the config describes {count / 1e9:.1f} billion parameters "
                              f"({count * 4 / 2**30:.0f} GiB); at most {MAX_PARAMETERS / 1e9:.0f} billion "
                              "are "
                              "loaded. Check its sizes (dim_feedforward, widths, vocab)")
    return state


def read_weights(path: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of `model.safetensors`, checked against `expected` (names and shapes from the file's
    header, before any tensor is read) and one by one as read (a float dtype where a float is expected;
    every value finite). CheckpointError naming the first tensors that are wrong."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            check_fits({k: v.shape for k, v in expected.items()},
                       {k: handle.get_slice(k).get_shape() for k in handle.keys()},
                       f"{path} (for the model its config.json describes)")
            state = {k: handle.get_tensor(k) for k in expected}
    except (OSError, SafetensorError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from err
    _check_values(path, state, expected)
    return state


def _check_values(path: Path, state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    kinds = [k for k, v in expected.items() if v.is_floating_point() != state[k].is_floating_point()]
    if kinds:
        raise CheckpointError(f"{path}: tensors of the wrong kind (float where an integer is expected, or "
                              f"the reverse): {', '.join(kinds[:8])}")
    broken = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise CheckpointError(f"{path}: {len(broken)} tensors hold NaN or infinite values (corrupt or "
                              f"diverged weights), e.g. {', '.join(broken[:8])}; nothing was loaded")


def _load_checked(model: DeRVOS, state: dict[str, torch.Tensor]) -> None:
    """Load `state` (cast to the model's dtypes) strictly, then recompute the model's version."""
    dtypes = {k: v.dtype for k, v in model.state_dict().items()}
    load_strict(model, {k: v.to(dtypes[k]) if k in dtypes else v for k, v in state.items()},
                "the checkpoint's weights")
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
