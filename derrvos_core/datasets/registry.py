"""open_dataset: one entry point for every reader, by name."""
from __future__ import annotations

from derrvos_core.datasets.common import RVOSDataset
from derrvos_core.datasets.davis import read_davis
from derrvos_core.datasets.longrvos import read_longrvos
from derrvos_core.datasets.mevis import read_mevis, read_synthref
from derrvos_core.datasets.realref import read_realref
from derrvos_core.datasets.refcoco import read_refcoco
from derrvos_core.datasets.refytvos import read_refytvos
from derrvos_core.errors import InputError

DATASETS = ("mevis", "refytvos", "davis", "refcoco", "refcoco+", "refcocog", "longrvos", "synthref",
            "synthref_ris", "realref")
_ALIASES = {"ref-youtube-vos": "refytvos", "refyoutubevos": "refytvos", "ref-davis17": "davis",
            "refdavis": "davis",
            "long-rvos": "longrvos", "long_rvos": "longrvos"}


def open_dataset(name: str, root, split: str, **options) -> RVOSDataset:
    """A lazy, list-like dataset of RVOSSample.

    name: one of DATASETS (case-insensitive; "synthref_ris" is SynthRef's RefCOCO-layout image split,
    rooted at <out>/ris). options go to the reader (e.g. split_by= / image_dir= for RefCOCO).
    """
    key = _ALIASES.get(name.lower(), name.lower())
    if key == "mevis":
        return read_mevis(root, split, **options)
    if key == "synthref":
        return read_synthref(root, split)
    if key == "refytvos":
        return read_refytvos(root, split)
    if key == "davis":
        return read_davis(root, split)
    if key in ("refcoco", "refcoco+", "refcocog"):
        return read_refcoco(root, split, dataset=key, **options)
    if key == "synthref_ris":
        return read_refcoco(root, split, dataset="refcoco", split_by="unc", **options)
    if key == "realref":
        return read_realref(root, split, **options)
    if key == "longrvos":
        return read_longrvos(root, split)
    raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
