"""SynthRef scenes: what objects a video holds and how each one moves (no pixels here).

A scene is sampled from a seeded numpy Generator; every object gets an appearance
(shape, colour, size, texture), a z-order and a behaviour that is simulated into
per-frame centre positions. Pixels and visible masks come later (synthref_render).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from derrvos_core.datasets.synthref_motion import simulate_behaviour
from derrvos_core.datasets.synthref_vocab import (BEHAVIOURS, COLOURS, HELD_OUT, SHAPES, SIZES, TEXTURES,
                                                 WEIGHTS_LONG, WEIGHTS_SHORT)


@dataclass
class SceneObject:
    """One object of a scene.

    Attributes:
        obj_id: index in the video (0-based, as MeViS obj_id).
        shape, colour, size, texture: appearance words (see SHAPES, COLOURS, SIZES, TEXTURES).
        behaviour: one of BEHAVIOURS.
        direction: name in DIRECTIONS of the first movement (None when still).
        size_px: sprite side in pixels.
        z: drawing order (higher is drawn on top).
        positions: float [T, 2] centre (x, y) per frame.
        velocities: float [T, 2] displacement from frame t to t+1 (last row repeats).
        bounces: wall reflections during the video.
        leader: obj_id this object follows (behaviour "follow"), else None.
        held_out: its (colour, shape, behaviour) is in HELD_OUT.
    """

    obj_id: int
    shape: str
    colour: str
    size: str
    texture: str
    behaviour: str
    direction: str | None
    size_px: int
    z: int = 0
    positions: np.ndarray = field(default=None, repr=False)
    velocities: np.ndarray = field(default=None, repr=False)
    bounces: int = 0
    leader: int | None = None
    held_out: bool = False

    @property
    def appearance(self) -> tuple:
        return (self.shape, self.colour, self.size, self.texture)


@dataclass
class Scene:
    """A sampled video before rendering: size, length, background seed and objects in obj_id order."""

    width: int
    height: int
    num_frames: int
    background_seed: int
    objects: list


def sample_scene(rng: np.random.Generator, width: int, height: int, num_frames: int,
                 num_objects: int, held_out: str = "exclude", twin_prob: float = 0.75) -> Scene:
    """Sample and simulate one scene.

    held_out: "exclude" (train/valid: never produce a HELD_OUT combination) or "include"
    (test: the first non-twin object is forced to a HELD_OUT combination half the time).
    twin_prob: chance of a group of 2-3 objects identical in appearance that only motion tells apart.
    """
    weights = WEIGHTS_LONG if num_frames >= 200 else WEIGHTS_SHORT
    scene = Scene(width, height, num_frames, int(rng.integers(2**31)), [])
    specs = _sample_appearances(rng, num_objects, twin_prob)
    force_held_out = held_out == "include" and rng.random() < 0.5
    for obj_id, (appearance, twin_group) in enumerate(specs):
        shape, colour, size, texture = appearance
        taken = {o.behaviour + str(o.direction) for o in scene.objects if o.appearance == appearance}
        if force_held_out and twin_group == 0:
            colour, shape, behaviour = sorted(HELD_OUT)[int(rng.integers(len(HELD_OUT)))]
            force_held_out = False
        else:
            behaviour = _sample_behaviour(rng, weights, colour, shape, held_out, scene.objects)
        size_px = _size_px(rng, size, width, height)
        obj = SceneObject(obj_id, shape, colour, size, texture, behaviour, None, size_px)
        for _ in range(8):  # twins must differ in motion, or nothing but chance tells them apart
            _simulate(rng, obj, scene)
            allowed = held_out != "exclude" or (obj.colour, obj.shape, obj.behaviour) not in HELD_OUT
            if allowed and obj.behaviour + str(obj.direction) not in taken:
                break
            obj.behaviour = _sample_behaviour(rng, weights, colour, shape, held_out, scene.objects)
        if held_out == "exclude" and (obj.colour, obj.shape, obj.behaviour) in HELD_OUT:
            obj.behaviour = "still"  # no HELD_OUT combination is still, so this always escapes
            _simulate(rng, obj, scene)
        obj.held_out = (obj.colour, obj.shape, obj.behaviour) in HELD_OUT
        scene.objects.append(obj)
    for z, i in enumerate(rng.permutation(len(scene.objects))):
        scene.objects[int(i)].z = z
    return scene


def _sample_appearances(rng, num_objects: int, twin_prob: float) -> list:
    """[(appearance, twin_group)] where twin_group > 0 marks objects sharing one appearance."""
    out = []
    if num_objects >= 2 and rng.random() < twin_prob:
        n_twins = 3 if num_objects >= 4 and rng.random() < 0.25 else 2
        look = _random_appearance(rng)
        out += [(look, 1)] * n_twins
    while len(out) < num_objects:
        out.append((_random_appearance(rng), 0))
    order = rng.permutation(len(out))
    return [out[int(i)] for i in order]


def _random_appearance(rng) -> tuple:
    return (SHAPES[rng.integers(len(SHAPES))], list(COLOURS)[rng.integers(len(COLOURS))],
            SIZES[rng.integers(len(SIZES))], TEXTURES[rng.integers(len(TEXTURES))])


def _sample_behaviour(rng, weights: dict, colour: str, shape: str, held_out: str, others: list) -> str:
    names = [b for b in BEHAVIOURS if not (b == "follow" and not _leaders(others))]
    if held_out == "exclude":
        names = [b for b in names if (colour, shape, b) not in HELD_OUT]
    p = np.array([weights[b] for b in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _leaders(objects: list) -> list:
    return [o for o in objects if o.behaviour in ("linear", "stop", "leave") and o.leader is None]


def _size_px(rng, size: str, width: int, height: int) -> int:
    frac = rng.uniform(0.09, 0.12) if size == "small" else rng.uniform(0.17, 0.22)
    return max(5, int(round(frac * min(width, height))))


def _speed(rng, scene: Scene, fast: bool) -> float:
    """Pixels per frame, scaled so a mover crosses a good part of the frame in the video."""
    base = min(scene.width, scene.height) / max(scene.num_frames, 1)
    long_boost = 2.0 if scene.num_frames >= 200 else 1.0
    return base * long_boost * (rng.uniform(0.75, 1.0) if fast else rng.uniform(0.3, 0.45))


def _simulate(rng, obj: SceneObject, scene: Scene) -> None:
    simulate_behaviour(rng, obj, scene, _speed(rng, scene, fast=bool(rng.random() < 0.5)),
                       _leaders(scene.objects))
