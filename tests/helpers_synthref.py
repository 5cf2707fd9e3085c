"""The smallest SynthRef a training script runs on in a test: 64 px, 6-8 frames, 2-3 objects."""
from __future__ import annotations

from pathlib import Path

from derrvos_core.datasets.synthref import SynthRefConfig, generate_synthref

TINY = SynthRefConfig(width=64, height=64, min_frames=6, max_frames=8, min_objects=2, max_objects=3,
                      min_expressions=2, max_expressions=3)


def tiny_synthref(root: Path, **splits: tuple[int, int]) -> Path:
    """`root` with each split of `splits` (split=(videos, seed)) generated at TINY."""
    for split, (num_videos, seed) in splits.items():
        generate_synthref(root, split, num_videos, seed=seed, config=TINY)
    return root
