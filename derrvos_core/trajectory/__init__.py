"""Trajectory branch (DVIS++): segmenter -> referring tracker -> temporal refiner -> `Trajectories`.

Names are imported lazily so that `derrvos_core.trajectory.types` stays cheap to import (the
model modules pull in transformers).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "BackboneConfig": "config", "RefinerConfig": "config", "SegmenterConfig": "config",
    "TrackerConfig": "config", "TrajectoryConfig": "config",
    "TrajectoryGenerator": "generator", "trajectory_scores": "generator", "validate_frames": "generator",
    "RefinerOutput": "refiner", "TemporalRefiner": "refiner",
    "Segmenter": "segmenter", "SegmenterOutput": "segmenter",
    "ReferringTracker": "tracker", "TrackerOutput": "tracker", "TrackerSession": "tracker",
    "Trajectories": "types", "mask_kinematics": "types",
}

__all__ = [
    "BackboneConfig",
    "ReferringTracker",
    "RefinerConfig",
    "RefinerOutput",
    "Segmenter",
    "SegmenterConfig",
    "SegmenterOutput",
    "TemporalRefiner",
    "TrackerConfig",
    "TrackerOutput",
    "TrackerSession",
    "Trajectories",
    "TrajectoryConfig",
    "TrajectoryGenerator",
    "mask_kinematics",
    "trajectory_scores",
    "validate_frames",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
