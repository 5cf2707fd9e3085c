"""The DeRVOS model: config, module, checkpoints and whole-video inference."""
from derrvos_core.model.branches import (
                                         ModelDefaults,
                                         MultimodalBranch,
                                         SegmentationModel,
                                         Selector,
                                         TrajectoryBranch,
)
from derrvos_core.model.cache import CacheStats, SegmentCache
from derrvos_core.model.catalog import REAL_MODEL, SYNTHREF_MODEL, load_model
from derrvos_core.model.checkpoint import load_checkpoint
from derrvos_core.model.config import DeRVOSConfig
from derrvos_core.model.derrvos import DeRVOS
from derrvos_core.model.inference import SegmentProgress
from derrvos_core.model.linking import LinkingConfig
from derrvos_core.multimodal.branch import ExpressionInput
from derrvos_core.multimodal.text import ByteTokenizer

__all__ = ["REAL_MODEL", "SYNTHREF_MODEL", "ByteTokenizer", "CacheStats", "DeRVOS", "DeRVOSConfig",
           "ExpressionInput", "LinkingConfig", "ModelDefaults", "MultimodalBranch", "SegmentCache",
           "SegmentProgress", "SegmentationModel", "Selector", "TrajectoryBranch", "load_checkpoint",
           "load_model"]
