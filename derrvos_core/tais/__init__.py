"""TAIS: the cross-frame multimodal aligner and the motion-guided implicit selector (N_d = 3)."""
from derrvos_core.tais.aligner import AlignerLayer
from derrvos_core.tais.config import TAISConfig
from derrvos_core.tais.losses import selection_loss, trajectory_labels
from derrvos_core.tais.motion import (NUM_SUMMARY, MotionEncoder, crop_motion, kinematic_features,
                                     mask_centroids, motion_summary)
from derrvos_core.tais.region import RegionPooling, patch_coverage
from derrvos_core.tais.selector import ImplicitSelector
from derrvos_core.tais.tais import TAIS, TAISOutput

__all__ = [
    "AlignerLayer",
    "ImplicitSelector",
    "MotionEncoder",
    "NUM_SUMMARY",
    "crop_motion",
    "motion_summary",
    "RegionPooling",
    "TAIS",
    "TAISConfig",
    "TAISOutput",
    "kinematic_features",
    "mask_centroids",
    "patch_coverage",
    "selection_loss",
    "trajectory_labels",
]
