"""The `detector` trajectory branch of the `real` model: COCO-80 detections (CenterNet, ONNX), tracked
into identities, a mask per object per frame (person model or GrabCut), colour and motion embeddings.

Entry point: `DetectorBranch(RealBranchConfig())`, a `derrvos_core.model.branches.TrajectoryBranch`.
The embedding channel layout is in `derrvos_core.real.features`.
"""
from derrvos_core.real.branch import DetectorBranch, PreparedFrames
from derrvos_core.real.config import CONVERT_COMMAND, RealBranchConfig, TrackerConfig
from derrvos_core.real.frame_features import DetectionFeatures
from derrvos_core.real.tracker import TrackingSession

__all__ = ["CONVERT_COMMAND", "DetectionFeatures", "DetectorBranch", "PreparedFrames", "RealBranchConfig",
           "TrackerConfig", "TrackingSession"]
