"""Building the DeRVOS model a selection stage trains, its tokenizer, and its export.

`init` may name a trajectory folder from stage 3 (`trajectory.safetensors`: the branch is loaded,
BEiT-3 and TAIS start fresh) or a DeRVOS model folder (`model.safetensors`: everything is loaded,
e.g. Ref-YouTube-VOS after image-level pretraining). Official weights come in through `init_dvis`
and `init_beit3`.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from derrvos_core.errors import InputError
from derrvos_core.multimodal.tokenizer import ExpressionTokenizer, train_sentencepiece

from ..clips import swap_left_right
from .common import TRAJECTORY_WEIGHTS, load_trajectory_weights


def derrvos_config(cfg):
    """The DeRVOSConfig a training config names (preset, or a model folder's config.json)."""
    from derrvos_core.model import DeRVOSConfig

    if cfg.model in ("tiny", "full"):
        return getattr(DeRVOSConfig, cfg.model)()
    path = Path(cfg.model)
    path = path / "config.json" if path.is_dir() else path
    if not path.is_file():
        raise InputError(f"model '{cfg.model}' is neither 'tiny', 'full' nor a DeRVOS config file or folder")
    return DeRVOSConfig.from_json(path.read_text())


def tokenizer_for(cfg, ctx) -> ExpressionTokenizer:
    """The expression tokenizer: `tokenizer`, the init model's, or one trained on the training expressions."""
    max_len = derrvos_config(cfg).max_text_len
    if cfg.tokenizer:
        return ExpressionTokenizer(cfg.tokenizer, max_length=max_len)
    if cfg.init and (Path(cfg.init) / "tokenizer.spm").is_file():
        return ExpressionTokenizer(Path(cfg.init) / "tokenizer.spm", max_length=max_len)
    prefix = cfg.out_dir / "tokenizer" / "tokenizer"
    if ctx.is_main and not Path(f"{prefix}.model").is_file():
        from derrvos_core.datasets import open_dataset

        samples = open_dataset(cfg.data.dataset, cfg.data.root, cfg.data.split)
        texts = [e.expression for e in samples.entries]
        # flipped copies too, so "left" and "right" are pieces whatever the split's balance
        train_sentencepiece(texts + [swap_left_right(t) for t in texts], prefix,
                            vocab_size=int(cfg.options.get("tokenizer_vocab", 1000)))
    ctx.barrier()
    return ExpressionTokenizer(f"{prefix}.model", max_length=max_len)


def build_selection_model(cfg, tokenizer: ExpressionTokenizer) -> nn.Module:
    """DeRVOS (trajectory, multimodal, tais) initialised as `cfg` says."""
    from derrvos_core.model import DeRVOS

    init = Path(cfg.init) if cfg.init else None
    if init is not None and (init / "model.safetensors").is_file():
        from derrvos_core.model import load_model

        return load_model(str(init))
    model = DeRVOS.from_config(derrvos_config(cfg))
    if tokenizer.vocab_size > model.multimodal.config.vocab_size:
        raise InputError(f"the tokenizer has {tokenizer.vocab_size} ids but the text embedding only "
                         f"{model.multimodal.config.vocab_size}")
    if init is not None:
        if not (init / TRAJECTORY_WEIGHTS).is_file():
            raise InputError(f"init folder {init} holds neither model.safetensors nor {TRAJECTORY_WEIGHTS}")
        load_trajectory_weights(model.trajectory, init)
    elif cfg.init_dvis:
        from derrvos_core.trajectory.convert import load_official_dvis

        load_official_dvis(cfg.init_dvis, model.trajectory)
    if cfg.init_beit3:
        from derrvos_core.multimodal import load_official_beit3

        encoder = load_official_beit3(cfg.init_beit3, model.multimodal.config)
        model.multimodal.beit3.load_state_dict(encoder.state_dict())
    model.tokenizer = tokenizer
    return model


def export_selection_model(model: nn.Module, tokenizer: ExpressionTokenizer, cfg, out_dir: Path) -> Path:
    """Save in our format (safetensors + config.json + tokenizer.spm + MODEL_CARD.md) via DeRVOS.save."""
    model.tokenizer = tokenizer
    card = (f"# {cfg.name}\n\nTrained by `python training/train.py --config <{cfg.name}.yaml>` "
            f"(stage {cfg.stage}).\n")
    model.save(out_dir, card_text=card)
    return Path(out_dir) / "model.safetensors"
