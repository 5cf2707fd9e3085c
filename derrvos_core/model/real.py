"""The `real` model: the detector trajectory branch, the expression reader and the fact selector,
assembled into a DeRVOS from a folder (config.json + MODEL_CARD.md + the ONNX parts).

config.json of a real model:
    {"kind": "real", "name": "derrvos-real",
     "defaults": {"crop_size": 60, "threshold": 0.1, "link_crops": true},
     "branch": {...RealBranchConfig, parts_dir relative to the folder...},
     "selector": {...SelectorParams...}}
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from derrvos_core.errors import CheckpointError, InputError
from derrvos_core.real.config import RealBranchConfig
from derrvos_core.selection import FactSelector, SelectorParams
from derrvos_core.selection.reader import ExpressionReader
from derrvos_core.settings import ModelDefaults

from .derrvos import DeRVOS

KIND = "real"
CONFIG = "config.json"


@dataclass(frozen=True)
class RealModelConfig:
    """Everything that makes a real model, as saved in its folder's config.json."""

    #: First part of the model's version.
    name: str
    #: Crop size and threshold a run uses when it names none.
    defaults: ModelDefaults
    #: The detector branch (parts_dir relative to the model folder).
    branch: RealBranchConfig
    #: The fitted selector numbers.
    selector: SelectorParams


def is_real_folder(folder: Path) -> bool:
    """Whether `folder` holds a real model (its config.json says kind "real")."""
    try:
        return json.loads((folder / CONFIG).read_text()).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def read_real_config(folder: Path) -> RealModelConfig:
    """Parse config.json; CheckpointError naming the file and the field on anything wrong. The parts
    folder must lie inside the model folder (a config cannot point the loader elsewhere)."""
    path = folder / CONFIG
    try:
        data = json.loads(path.read_text())
        branch = dict(data["branch"])
        parts = (folder / branch.get("parts_dir", ".")).resolve()
        if parts != folder.resolve() and folder.resolve() not in parts.parents:
            raise InputError(f"branch.parts_dir {branch.get('parts_dir')!r} leaves the model folder")
        branch["parts_dir"] = str(parts)
        defaults = ModelDefaults(crop_size=data["defaults"]["crop_size"], threshold=data["defaults"]["threshold"],
                                 link_crops=data["defaults"].get("link_crops", False))
        return RealModelConfig(name=str(data["name"]), defaults=defaults,
                               branch=RealBranchConfig.from_dict(branch),
                               selector=SelectorParams.from_dict(data.get("selector", {})))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: cannot be read ({err})") from err
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: missing or malformed field {err}") from err
    except InputError as err:
        raise CheckpointError(f"{path}: {err}") from err


def build_real_model(cfg: RealModelConfig, reader: ExpressionReader | None = None) -> DeRVOS:
    """The assembled model (loads the ONNX parts; language parts load on the first expression)."""
    from derrvos_core.real.branch import DetectorBranch

    branch = DetectorBranch(cfg.branch)
    return DeRVOS(trajectory=branch, multimodal=reader or ExpressionReader(),
                  selector=FactSelector(cfg.selector), defaults=cfg.defaults, name=cfg.name,
                  version_salt=f"{branch.key}/{sorted(cfg.selector.to_dict().items())}/{code_digest()}")


@functools.cache
def code_digest() -> str:
    """Digest of the selector's and the expression reader's source: their rules are the real model's
    weights too, so a changed rule is a new version even with the same numbers."""
    import derrvos_core.language as language
    import derrvos_core.selection as selection

    digest = hashlib.sha1()
    for package in (language, selection):
        for path in sorted(Path(package.__file__).parent.glob("*.py")):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def load_real_model(folder: str | Path) -> DeRVOS:
    return build_real_model(read_real_config(Path(folder)))


def write_selector(folder: Path, params: SelectorParams, threshold: float, name: str | None = None) -> Path:
    """Write fitted selector numbers and threshold (and a new name) into `folder`'s config.json, keeping
    everything else in it; what fitting and refitting save."""
    path = folder / CONFIG
    data = json.loads(path.read_text())
    data["selector"] = {k: round(float(v), 5) for k, v in params.to_dict().items()}
    data["defaults"] = {**data["defaults"], "threshold": float(threshold)}
    if name is not None:
        data["name"] = name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
