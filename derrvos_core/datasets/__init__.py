"""Dataset readers (MeViS, Ref-YouTube-VOS, Ref-DAVIS17, RefCOCO/+/g, Long-RVOS, SynthRef) and the SynthRef
generator.

Every reader returns an RVOSDataset: a lazy, list-like sequence of RVOSSample.
"""
from derrvos_core.datasets.common import RVOSDataset
from derrvos_core.datasets.davis import read_davis
from derrvos_core.datasets.longrvos import read_longrvos
from derrvos_core.datasets.mevis import read_mevis, read_synthref
from derrvos_core.datasets.refcoco import read_refcoco
from derrvos_core.datasets.refytvos import read_refytvos
from derrvos_core.datasets.registry import DATASETS, open_dataset
from derrvos_core.datasets.types import RVOSSample

__all__ = ["DATASETS", "RVOSDataset", "RVOSSample", "open_dataset", "read_davis", "read_longrvos",
           "read_mevis",
           "read_refcoco", "read_refytvos", "read_synthref"]
