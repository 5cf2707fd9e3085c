"""Building the DeRVOS model a selection stage trains, its tokenizer, and its export.

`init` may name a trajectory folder from stage 3 (`trajectory.safetensors`: the branch is loaded,
BEiT-3 and TAIS start fresh) or a DeRVOS model folder (`model.safetensors`: everything is loaded,
e.g. Ref-YouTube-VOS after image-level pretraining). `init_trajectory` names a DeRVOS model folder
whose trajectory branch only is loaded (stage-4 ablations on a shipped model's frozen branch); `tais`
overrides TAISConfig fields of the preset (N_d, the motion stream). Official weights come in through `init_dvis`
and `init_beit3`.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from derrvos_core.errors import InputError
from derrvos_core.multimodal.tokenizer import train_sentencepiece
from derrvos_core.tais.config import TAISConfig

from ..clips import swap_left_right
from .common import TRAJECTORY_WEIGHTS, branch_weights, load_trajectory_weights


def derrvos_config(cfg):
    """The DeRVOSConfig a training config names (preset, or a model folder's config.json), with the
    trajectory branch's input size set to `data.image_size`, the size its stages 1-3 were trained at."""
    from derrvos_core.model import DeRVOSConfig

    if cfg.model in ("tiny", "full"):
        config = getattr(DeRVOSConfig, cfg.model)()
    else:
        path = Path(cfg.model)
        path = path / "config.json" if path.is_dir() else path
        if not path.is_file():
            raise InputError(f"model '{cfg.model}' is neither 'tiny', 'full' nor a DeRVOS config file or folder")
        config = DeRVOSConfig.from_json(path.read_text())
    if cfg.tais:
        tais = TAISConfig.from_dict({**config.tais.to_dict(), **dict(cfg.tais)})
        config = DeRVOSConfig.from_dict({**config.to_dict(), "tais": tais.to_dict()})
    if cfg.data.image_size != config.input_size:  # data.image_size is the trajectory branch's input size
        config = DeRVOSConfig.from_dict({**config.to_dict(), "input_size": cfg.data.image_size})
    return config


def tokenizer_for(cfg, ctx) -> Path | None:
    """The sentencepiece file: `tokenizer`, the init model's, or one trained on the training expressions.

    None when `options.tokenizer` is "bytes" (UTF-8 bytes, no training; quick tests).
    """
    if cfg.tokenizer:
        return Path(cfg.tokenizer)
    if cfg.init and (Path(cfg.init) / "tokenizer.spm").is_file():
        return Path(cfg.init) / "tokenizer.spm"
    if cfg.options.get("tokenizer") == "bytes":
        return None
    prefix = cfg.out_dir / "tokenizer" / "tokenizer"
    if ctx.is_main and not Path(f"{prefix}.model").is_file():
        from derrvos_core.datasets import open_dataset

        samples = open_dataset(cfg.data.dataset, cfg.data.root, cfg.data.split)
        from .derrvos import entry_expression

        texts = [entry_expression(e) for e in samples.entries]
        # flipped copies too, so "left" and "right" are pieces whatever the split's balance
        train_sentencepiece(texts + [swap_left_right(t) for t in texts], prefix,
                            vocab_size=int(cfg.options.get("tokenizer_vocab", 1000)))
    ctx.barrier()
    return Path(f"{prefix}.model")


def build_selection_model(cfg, tokenizer: Path | None) -> nn.Module:
    """DeRVOS (trajectory, multimodal, tais) initialised as `cfg` says."""
    from derrvos_core.model import DeRVOS, load_model

    init = Path(cfg.init) if cfg.init else None
    if init is not None and (init / "model.safetensors").is_file():
        return load_model(str(init)).train()
    model = DeRVOS.from_config(derrvos_config(cfg), tokenizer_path=tokenizer)
    if cfg.init_trajectory:
        if init is not None:
            raise InputError("name either init or init_trajectory, not both")
        source = load_model(str(cfg.init_trajectory))
        if source.cfg is not None and source.cfg.input_size != model.cfg.input_size:
            raise InputError(f"the trajectory branch of {cfg.init_trajectory} reads {source.cfg.input_size}-px frames; "
                             f"set data.image_size={source.cfg.input_size} (it is {model.cfg.input_size})")
        model.trajectory.load_state_dict(branch_weights(source.trajectory))
    if init is not None:
        if not (init / TRAJECTORY_WEIGHTS).is_file():
            raise InputError(f"init folder {init} holds neither model.safetensors nor {TRAJECTORY_WEIGHTS}")
        load_trajectory_weights(model.trajectory, init)
    elif cfg.init_dvis:
        from derrvos_core.trajectory.convert import load_official_dvis

        load_official_dvis(cfg.init_dvis, model.trajectory)
    if cfg.init_beit3:
        from derrvos_core.multimodal import load_official_beit3

        load_official_beit3(cfg.init_beit3, model.multimodal.config, into=model.multimodal.beit3,
                            ignore_task_heads=True)
    return model


def export_selection_model(model: nn.Module, cfg, out_dir: Path) -> Path:
    """Save in our format (model.safetensors + config.json + tokenizer.spm + MODEL_CARD.md)."""
    card = (f"# {cfg.name}\n\nTrained by `python training/train.py --config training/configs/{cfg.name}.yaml` "
            f"(stage {cfg.stage}).\n")
    model.save(out_dir, card_text=card)
    return Path(out_dir) / "model.safetensors"
