"""Check our BEiT3Encoder against the official torchscale BEiT-3 with the same random weights.

torchscale 0.3.0 is not a project dependency; install it apart, without its dependencies:
    .venv/bin/pip install --no-deps --target /tmp/torchscale_pkg torchscale==0.3.0
    .venv/bin/python scripts/beit3_reference_check.py --torchscale /tmp/torchscale_pkg [--base]
It needs only `drop_path` from timm and two names from `fairscale.nn`, which this script provides
as small stand-ins (timm and fairscale are not installed). Prints the max relative error per case.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing
from derrvos_core.multimodal import BEiT3Config, BEiT3Encoder  # noqa: E402


@contextlib.contextmanager
def import_shims():
    """Stand-ins for the three names torchscale imports from timm and fairscale, present only while
    torchscale is imported (its modules keep the bound names), so no fake `timm` outlives it."""
    def drop_path(x, drop_prob=0.0, training=False):
        if not training or not drop_prob:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - drop_prob)
        return x * keep / (1 - drop_prob)

    layers = types.ModuleType("timm.models.layers")
    layers.drop_path = drop_path
    fairscale_nn = types.ModuleType("fairscale.nn")
    fairscale_nn.checkpoint_wrapper = lambda module, *a, **k: module
    fairscale_nn.wrap = lambda module, *a, **k: module
    shims = {"timm": types.ModuleType("timm"), "timm.models": types.ModuleType("timm.models"),
             "timm.models.layers": layers, "fairscale": types.ModuleType("fairscale"), "fairscale.nn": fairscale_nn}
    added = [name for name in shims if name not in sys.modules]
    sys.modules.update({name: shims[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def import_reference():
    """(EncoderConfig, BEiT3) from torchscale; ImportError when torchscale is not installed."""
    with import_shims():
        from torchscale.architecture.config import EncoderConfig
        from torchscale.model.BEiT3 import BEiT3
    return EncoderConfig, BEiT3


def build_reference(config: BEiT3Config, device: str | torch.device = "cpu"):
    """torchscale's BEiT3 with the arguments of the official `_get_base_config`, at our sizes."""
    EncoderConfig, BEiT3 = import_reference()
    args = EncoderConfig(
        img_size=config.image_size, patch_size=config.patch_size, vocab_size=config.vocab_size,
        multiway=True, layernorm_embedding=False, normalize_output=True, no_output_layer=True,
        drop_path_rate=0.0, encoder_embed_dim=config.embed_dim, encoder_attention_heads=config.num_heads,
        encoder_ffn_embed_dim=config.ffn_dim, encoder_layers=config.num_layers,
        max_source_positions=config.max_text_positions, checkpoint_activations=None,
    )
    with torch.device(device):
        return BEiT3(args)


def official_manifest(config: BEiT3Config) -> dict[str, list[int]]:
    """`beit3.<key>` -> shape of the official model (built on the meta device: no memory, no time)."""
    reference = build_reference(config, device="meta")
    return {f"beit3.{k}": list(v.shape) for k, v in reference.state_dict().items()}


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Give every parameter distinct random values (LayerNorms around 1) so no term hides."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name or "_ln" in name:
                p.copy_(1.0 + 0.1 * noise if name.endswith("weight") else 0.1 * noise)
            else:
                p.copy_(noise * 0.05)


def relative_error(ours: torch.Tensor, theirs: torch.Tensor, valid: torch.Tensor | None = None) -> float:
    if valid is not None:
        ours, theirs = ours[valid], theirs[valid]
    return float((ours - theirs).abs().max() / theirs.abs().max())


def compare(config: BEiT3Config, batch: int = 2, text_len: int = 12, seed: int = 0) -> dict[str, float]:
    """Max relative error of ours vs torchscale on joint, vision-only and text-only inputs (padded text)."""
    reference = build_reference(config).eval()
    randomise(reference, seed)
    ours = BEiT3Encoder(config).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    gen = torch.Generator().manual_seed(seed + 1)
    image = torch.randn(batch, 3, config.image_size, config.image_size, generator=gen)
    ids = torch.randint(4, config.vocab_size, (batch, text_len), generator=gen)
    padding = torch.zeros(batch, text_len, dtype=torch.bool)
    padding[0, text_len // 2 :] = True  # first sample half padding, second none
    ids[padding] = 1
    errors = {}
    with torch.no_grad():
        theirs = reference(textual_tokens=ids, visual_tokens=image, text_padding_position=padding)["encoder_out"]
        mine = ours(image, ids, padding)
        valid = ~torch.cat([torch.zeros(batch, config.num_vision_tokens, dtype=torch.bool), padding], 1)
        errors["vision+text"] = relative_error(mine, theirs, valid)
        theirs = reference(visual_tokens=image)["encoder_out"]
        errors["vision only"] = relative_error(ours(image), theirs)
        theirs = reference(textual_tokens=ids, text_padding_position=padding)["encoder_out"]
        errors["text only"] = relative_error(ours(None, ids, padding), theirs, ~padding)
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torchscale", type=Path, help="folder where torchscale 0.3.0 is installed")
    parser.add_argument("--base", action="store_true", help="also compare at BEiT-3 base size (slow on CPU)")
    parser.add_argument("--write-manifest", type=Path, help="write the official base key names and shapes here")
    args = parser.parse_args()
    if args.torchscale:
        sys.path.insert(0, str(args.torchscale))
    if args.write_manifest:
        manifest = official_manifest(BEiT3Config.base())
        rows = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in manifest.items())
        source = "torchscale 0.3.0 BEiT3 with unilm/beit3 _get_base_config (img 224, patch 16, vocab 64010)"
        args.write_manifest.write_text(f'{{"source": {json.dumps(source)},\n "keys": {{\n{rows}\n }}\n}}\n')
        print(f"wrote {len(manifest)} keys to {args.write_manifest}")
        return 0
    small = BEiT3Config(vocab_size=500, embed_dim=64, num_layers=2, num_heads=4, ffn_dim=128,
                        image_size=64, patch_size=16, max_text_positions=40)
    sizes = [("small", small), ("tiny", BEiT3Config.tiny())] + ([("base", BEiT3Config.base())] if args.base else [])
    worst = 0.0
    for label, config in sizes:
        for case, err in compare(config).items():
            worst = max(worst, err)
            print(f"{label:6s} {case:12s} max relative error {err:.2e}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
