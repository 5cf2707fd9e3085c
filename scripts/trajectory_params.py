"""Parameter counts of the trajectory branch, per module, next to the official DVIS++ R50 figures.

    python scripts/trajectory_params.py                 # full config vs official DVIS++ R50 offline
    python scripts/trajectory_params.py --config tiny
    python scripts/trajectory_params.py --write-manifest tests/fixtures/dvis_r50_manifest.json

The official figures come from a manifest of the DVIS++ R50 offline state dict (OVIS, 25 classes)
written down from the official code (DVIS_Plus: dvis_Plus/meta_architecture.py `DVIS_Plus_offline`,
tracker.py, refiner.py, video_mask2former_transformer_decoder.py `..._dvisPlus`; Mask2Former:
msdeformattn.py, detectron2 `build_resnet_backbone` with FrozenBN). FrozenBN statistics and
`criterion.empty_weight` are buffers: counted as state-dict entries, not as parameters.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_BUFFER_SUFFIXES = (".running_mean", ".running_var")


def _linear(prefix: str, n_out: int, n_in: int) -> list:
    return [[f"{prefix}.weight", [n_out, n_in]], [f"{prefix}.bias", [n_out]]]


def _norm(prefix: str, n: int) -> list:
    return [[f"{prefix}.weight", [n]], [f"{prefix}.bias", [n]]]


def _mha(prefix: str, d: int) -> list:
    return [[f"{prefix}.in_proj_weight", [3 * d, d]], [f"{prefix}.in_proj_bias", [3 * d]],
            *_linear(f"{prefix}.out_proj", d, d)]


def _mlp(prefix: str, dims: list[int]) -> list:
    return [e for i in range(len(dims) - 1) for e in _linear(f"{prefix}.layers.{i}", dims[i + 1], dims[i])]


def _conv_frozen_bn(prefix: str, c_out: int, c_in: int, k: int) -> list:
    return [[f"{prefix}.weight", [c_out, c_in, k, k]]] + [
        [f"{prefix}.norm.{n}", [c_out]] for n in ("weight", "bias", "running_mean", "running_var")]


def _backbone() -> list:
    """detectron2 ResNet-50 (basic stem, bottleneck blocks, FrozenBN, no conv bias)."""
    keys = _conv_frozen_bn("backbone.stem.conv1", 64, 3, 7)
    stages = [("res2", 3, 64, 64, 256), ("res3", 4, 256, 128, 512),
              ("res4", 6, 512, 256, 1024), ("res5", 3, 1024, 512, 2048)]
    for name, blocks, c_in, mid, c_out in stages:
        for b in range(blocks):
            p = f"backbone.{name}.{b}"
            first_in = c_in if b == 0 else c_out
            if b == 0:
                keys += _conv_frozen_bn(f"{p}.shortcut", c_out, c_in, 1)
            keys += _conv_frozen_bn(f"{p}.conv1", mid, first_in, 1)
            keys += _conv_frozen_bn(f"{p}.conv2", mid, mid, 3)
            keys += _conv_frozen_bn(f"{p}.conv3", c_out, mid, 1)
    return keys


def _pixel_decoder(d: int = 256, heads: int = 8, levels: int = 3, points: int = 4, ffn: int = 1024) -> list:
    p = "sem_seg_head.pixel_decoder"
    keys = []
    for i, c_in in enumerate((2048, 1024, 512)):  # res5, res4, res3
        keys += [[f"{p}.input_proj.{i}.0.weight", [d, c_in, 1, 1]], [f"{p}.input_proj.{i}.0.bias", [d]],
                 *_norm(f"{p}.input_proj.{i}.1", d)]
    keys.append([f"{p}.transformer.level_embed", [levels, d]])
    for i in range(6):
        e = f"{p}.transformer.encoder.layers.{i}"
        keys += [*_linear(f"{e}.self_attn.sampling_offsets", heads * levels * points * 2, d),
                 *_linear(f"{e}.self_attn.attention_weights", heads * levels * points, d),
                 *_linear(f"{e}.self_attn.value_proj", d, d), *_linear(f"{e}.self_attn.output_proj", d, d),
                 *_norm(f"{e}.norm1", d), *_linear(f"{e}.linear1", ffn, d), *_linear(f"{e}.linear2", d, ffn),
                 *_norm(f"{e}.norm2", d)]
    keys += [[f"{p}.mask_features.weight", [d, d, 1, 1]], [f"{p}.mask_features.bias", [d]],
             [f"{p}.adapter_1.weight", [d, 256, 1, 1]], *_norm(f"{p}.adapter_1.norm", d),
             [f"{p}.layer_1.weight", [d, d, 3, 3]], *_norm(f"{p}.layer_1.norm", d)]
    return keys


def _predictor(classes: int, d: int = 256, queries: int = 100, layers: int = 9, ffn: int = 2048) -> list:
    p = "sem_seg_head.predictor"
    keys = []
    for i in range(layers):
        keys += _mha(f"{p}.transformer_self_attention_layers.{i}.self_attn", d)
        keys += _norm(f"{p}.transformer_self_attention_layers.{i}.norm", d)
    for i in range(layers):
        keys += _mha(f"{p}.transformer_cross_attention_layers.{i}.multihead_attn", d)
        keys += _norm(f"{p}.transformer_cross_attention_layers.{i}.norm", d)
    for i in range(layers):
        f = f"{p}.transformer_ffn_layers.{i}"
        keys += [*_linear(f"{f}.linear1", ffn, d), *_linear(f"{f}.linear2", d, ffn), *_norm(f"{f}.norm", d)]
    keys += [*_norm(f"{p}.decoder_norm", d), [f"{p}.query_feat.weight", [queries, d]],
             [f"{p}.query_embed.weight", [queries, d]], [f"{p}.level_embed.weight", [3, d]],
             *_linear(f"{p}.class_embed", classes + 1, d), *_mlp(f"{p}.mask_embed", [d, d, d, d]),
             *_mlp(f"{p}.reid_embed", [d, d, d, d])]
    return keys


def _attn_stack(prefix: str, names: list[str], attn: str, d: int, layers: int) -> list:
    return [e for name in names for i in range(layers)
            for e in _mha(f"{prefix}.{name}.{i}.{attn}", d) + _norm(f"{prefix}.{name}.{i}.norm", d)]


def _ffn_stack(prefix: str, d: int, ffn: int, layers: int) -> list:
    return [e for i in range(layers) for e in (_linear(f"{prefix}.transformer_ffn_layers.{i}.linear1", ffn, d)
            + _linear(f"{prefix}.transformer_ffn_layers.{i}.linear2", d, ffn)
            + _norm(f"{prefix}.transformer_ffn_layers.{i}.norm", d))]


def _tracker(classes: int, d: int = 512, mask: int = 256, ffn: int = 2048, layers: int = 6) -> list:
    keys = _attn_stack("tracker", ["transformer_self_attention_layers"], "self_attn", d, layers)
    keys += _attn_stack("tracker", ["transformer_cross_attention_layers"], "multihead_attn", d, layers)
    keys += _ffn_stack("tracker", d, ffn, layers)
    keys += [*_norm("tracker.decoder_norm", d), *_linear("tracker.class_embed", classes + 1, 2 * d),
             *_mlp("tracker.mask_embed", [d, d, d, mask]), *_mlp("tracker.ref_proj", [d, d, d, d]),
             ["tracker.mask_feature_proj.weight", [mask, mask, 1, 1]],
             ["tracker.mask_feature_proj.bias", [mask]]]
    return keys


def _refiner(classes: int, d: int = 512, mask: int = 256, ffn: int = 2048, layers: int = 6) -> list:
    keys = _attn_stack("refiner", ["transformer_obj_self_attention_layers",
                                   "transformer_time_self_attention_layers"], "self_attn", d, layers)
    keys += _attn_stack("refiner", ["transformer_cross_attention_layers"], "multihead_attn", d, layers)
    keys += _ffn_stack("refiner", d, ffn, layers)
    for i in range(layers):
        c = f"refiner.conv_short_aggregate_layers.{i}"
        keys += [[f"{c}.0.weight", [d, d, 5]], [f"{c}.0.bias", [d]],
                 [f"{c}.2.weight", [d, d, 3]], [f"{c}.2.bias", [d]]]
        keys += _norm(f"refiner.conv_norms.{i}", d)
    keys += [*_norm("refiner.decoder_norm", d), *_linear("refiner.class_embed", classes + 1, d),
             *_mlp("refiner.mask_embed", [d, d, d, mask]), *_linear("refiner.activation_proj", 1, d)]
    return keys


def official_dvis_r50_manifest(num_classes: int = 25) -> list[list]:
    """[key, shape] of the official DVIS++ R50 offline state dict, as its code builds it."""
    return (_backbone() + _pixel_decoder() + _predictor(num_classes)
            + [["criterion.empty_weight", [num_classes + 1]]] + _tracker(num_classes) + _refiner(num_classes))


def _numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def official_counts(manifest: list[list]) -> dict[str, int]:
    """Parameters per official module (FrozenBN tensors and empty_weight are buffers)."""
    groups = {"backbone": "backbone.", "pixel decoder": "sem_seg_head.pixel_decoder.",
              "predictor": "sem_seg_head.predictor.", "tracker": "tracker.", "refiner": "refiner."}
    counts = {name: 0 for name in groups}
    for key, shape in manifest:
        if key.startswith("backbone.") and ".norm." in key:
            continue  # FrozenBN: weight, bias, running stats are all buffers
        for name, prefix in groups.items():
            if key.startswith(prefix):
                counts[name] += _numel(shape)
    return counts


def our_counts(generator) -> dict[str, int]:
    m2f = generator.segmenter.mask2former
    parts = {
        "backbone": m2f.model.pixel_level_module.encoder,
        "pixel decoder": m2f.model.pixel_level_module.decoder,
        "predictor": [m2f.model.transformer_module, m2f.class_predictor, generator.segmenter.reid_embed],
        "tracker": generator.tracker,
        "refiner": generator.refiner,
    }
    return {name: sum(p.numel() for m in (mods if isinstance(mods, list) else [mods]) for p in m.parameters())
            for name, mods in parts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=["full", "tiny"], default="full")
    parser.add_argument("--write-manifest", type=Path, help="write the official manifest JSON here and exit")
    args = parser.parse_args(argv)
    manifest = official_dvis_r50_manifest()
    if args.write_manifest:
        args.write_manifest.parent.mkdir(parents=True, exist_ok=True)
        lines = ",\n".join(json.dumps(entry) for entry in manifest)
        args.write_manifest.write_text("[\n" + lines + "\n]\n")
        print(f"wrote {len(manifest)} entries to {args.write_manifest}")
        return 0

    from derrvos_core.trajectory import TrajectoryConfig, TrajectoryGenerator

    cfg = TrajectoryConfig.full() if args.config == "full" else TrajectoryConfig.tiny()
    generator = TrajectoryGenerator.from_config(cfg)
    ours, official = our_counts(generator), official_counts(manifest)
    print(f"{'module':<15}{'ours (' + args.config + ')':>16}{'official R50':>16}")
    for name in ours:
        print(f"{name:<15}{ours[name] / 1e6:>14.2f} M{official[name] / 1e6:>14.2f} M")
    print(f"{'total':<15}{sum(ours.values()) / 1e6:>14.2f} M{sum(official.values()) / 1e6:>14.2f} M")
    print(f"state-dict entries: ours {len(generator.state_dict())}, official {len(manifest)}")
    if args.config == "full":
        print("(ours splits the 9 decoder self-attention in_proj tensors into q/k/v: +36 entries)")
    affine = sum(_numel(s) for k, s in manifest if k.startswith("backbone.") and k.endswith(".norm.weight"))
    with_affine = (official["backbone"] + 2 * affine) / 1e6
    print(f"official backbone incl. FrozenBN affine buffers: {with_affine:.2f} M")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
