"""The DeRVOS model: config, module, checkpoints and whole-video inference."""
from derrvos_core.model.cache import CacheStats, SegmentCache
from derrvos_core.model.checkpoint import DEFAULT_MODEL, load_model
from derrvos_core.model.config import DeRVOSConfig
from derrvos_core.model.derrvos import DeRVOS, ExpressionInput
from derrvos_core.model.inference import SegmentProgress
from derrvos_core.model.linking import LinkingConfig
from derrvos_core.model.text import ByteTokenizer

__all__ = ["DEFAULT_MODEL", "ByteTokenizer", "CacheStats", "DeRVOS", "DeRVOSConfig", "ExpressionInput",
           "LinkingConfig", "SegmentCache", "SegmentProgress", "load_model"]
