"""SynthRef motion: turn a behaviour name into per-frame centre positions.

Each builder returns (positions [T, 2], bounces, direction name, leader id) or None when the
behaviour cannot fit this frame size and length; the caller then falls back to "linear" and
finally "still", so every object always gets a valid, fully simulated path.
"""
from __future__ import annotations

import math

import numpy as np

from derrvos_core.datasets.synthref_vocab import CARDINAL, DIRECTIONS


def simulate_behaviour(rng: np.random.Generator, obj, scene, speed: float, leaders: list) -> None:
    """Set obj.positions, velocities, bounces, direction, leader (and behaviour when it falls back)."""
    builders = {"still": _still, "linear": _linear, "stop": _stop, "start": _start, "turn": _turn,
                "bounce": _bounce, "leave": _leave, "enter": _enter, "return": _return, "follow": _follow}
    for behaviour in (obj.behaviour, "linear", "still"):
        built = builders[behaviour](rng, scene, obj.size_px / 2.0, speed, leaders)
        if built is not None:
            break
    positions, bounces, direction, leader = built
    obj.behaviour = behaviour
    obj.positions = positions
    vel = np.diff(positions, axis=0)
    obj.velocities = np.concatenate([vel, vel[-1:]], axis=0) if len(vel) else np.zeros_like(positions)
    obj.bounces, obj.direction, obj.leader = bounces, direction, leader


def _fit(rng, scene, r: float, vel: np.ndarray):
    """Positions that keep the whole object inside the frame for the given velocities, or None."""
    for _ in range(12):
        disp = np.concatenate([np.zeros((1, 2)), np.cumsum(vel[:-1], axis=0)], axis=0)
        lo = r - disp.min(axis=0)
        hi = np.array([scene.width, scene.height]) - r - disp.max(axis=0)
        if np.all(lo <= hi):
            return rng.uniform(lo, hi) + disp
        vel = vel * 0.8  # too far for this frame: slow down rather than leave
    return None


def _direction(rng, cardinal_only: bool = False) -> str:
    names = CARDINAL if cardinal_only else tuple(DIRECTIONS)
    return names[int(rng.integers(len(names)))]


def _piecewise(scene, pieces: list) -> np.ndarray:
    """float [T, 2] velocities from [(first_frame, (vx, vy))] pieces."""
    vel = np.zeros((scene.num_frames, 2))
    for start, v in pieces:
        vel[start:] = v
    return vel


def _still(rng, scene, r, speed, leaders):
    return _fit(rng, scene, r, np.zeros((scene.num_frames, 2))), 0, None, None


def _linear(rng, scene, r, speed, leaders):
    d = _direction(rng)
    pos = _fit(rng, scene, r, _piecewise(scene, [(0, np.array(DIRECTIONS[d]) * speed)]))
    return None if pos is None else (pos, 0, d, None)


def _two_piece(rng, scene, r, first, second, lo=0.3, hi=0.7):
    t = scene.num_frames
    switch = int(rng.uniform(lo, hi) * t)
    pos = _fit(rng, scene, r, _piecewise(scene, [(0, first), (switch, second)]))
    return pos


def _stop(rng, scene, r, speed, leaders):
    d = _direction(rng)
    pos = _two_piece(rng, scene, r, np.array(DIRECTIONS[d]) * speed, np.zeros(2))
    return None if pos is None else (pos, 0, d, None)


def _start(rng, scene, r, speed, leaders):
    d = _direction(rng)
    pos = _two_piece(rng, scene, r, np.zeros(2), np.array(DIRECTIONS[d]) * speed)
    return None if pos is None else (pos, 0, d, None)


def _turn(rng, scene, r, speed, leaders):
    d = _direction(rng)
    v = np.array(DIRECTIONS[d]) * speed
    pos = _two_piece(rng, scene, r, v, -v, 0.35, 0.6)
    return None if pos is None else (pos, 0, d, None)


def _bounce(rng, scene, r, speed, leaders):
    """Reflect off the walls; retried faster until at least one reflection happens."""
    size = np.array([scene.width, scene.height], dtype=float)
    d = _direction(rng)
    for attempt in range(6):
        v = np.array(DIRECTIONS[d]) * speed * (1.5 + 0.5 * attempt)
        p = rng.uniform(r, size - r)
        pos, bounces = np.zeros((scene.num_frames, 2)), 0
        for t in range(scene.num_frames):
            pos[t] = p
            p = p + v
            for axis in range(2):
                if p[axis] < r or p[axis] > size[axis] - r:
                    v[axis] = -v[axis]
                    p[axis] = np.clip(p[axis], r, size[axis] - r)
                    bounces += 1
        if bounces:
            return pos, bounces, d, None
    return None


def _axis(d: str) -> tuple:
    """(axis index, +1 when moving towards larger coordinates) of a cardinal direction."""
    return (0 if d in ("left", "right") else 1), (1 if d in ("right", "down") else -1)


def _along(scene, d: str, u: np.ndarray, rng, r: float) -> np.ndarray:
    """Positions from a coordinate u measured along d from the side it comes from; the other axis is fixed."""
    axis, sign = _axis(d)
    length = (scene.width, scene.height)[axis]
    other = (scene.height, scene.width)[axis]
    pos = np.zeros((len(u), 2))
    pos[:, axis] = u if sign > 0 else length - u
    pos[:, 1 - axis] = rng.uniform(r, other - r)
    return pos


def _leave(rng, scene, r, speed, leaders):
    d = _direction(rng, cardinal_only=True)
    length = (scene.width, scene.height)[_axis(d)[0]]
    t = scene.num_frames
    exit_frame = max(2, int(rng.uniform(0.35, 0.75) * t))
    u0 = rng.uniform(r, 0.5 * length)
    v = (length + r + 1 - u0) / exit_frame
    return _along(scene, d, u0 + v * np.arange(t), rng, r), 0, d, None


def _enter(rng, scene, r, speed, leaders):
    d = _direction(rng, cardinal_only=True)
    length = (scene.width, scene.height)[_axis(d)[0]]
    t = scene.num_frames
    appear = int(rng.uniform(0.15, 0.5) * t)
    u_end = rng.uniform(max(0.35 * length, r), length - r)
    v = (u_end + r + 1) / max(t - 1 - appear, 1)
    return _along(scene, d, (-r - 1 - v * appear) + v * np.arange(t), rng, r), 0, d, None


def _return(rng, scene, r, speed, leaders):
    """Leave the frame, turn around out of view, come back in and stop where it started."""
    d = _direction(rng, cardinal_only=True)
    length = (scene.width, scene.height)[_axis(d)[0]]
    t = scene.num_frames
    gap, turn = int(rng.uniform(0.08, 0.15) * t), int(rng.uniform(0.35, 0.5) * t)
    u0 = rng.uniform(max(0.3 * length, r), max(0.6 * length, r))
    if turn - gap < 2:
        return None
    v = (length + r + 1 - u0) / (turn - gap)
    if (t - 1 - turn - gap) * v < 2 * r + 2:
        return None
    frames = np.arange(t)
    u = np.where(frames <= turn, u0 + v * frames, u0 + v * (2 * turn - frames))
    return _along(scene, d, np.maximum(u, u0), rng, r), 0, d, None


def _follow(rng, scene, r, speed, leaders):
    """Trail a leader along its own path, a fixed distance behind; stop when it stops."""
    if not leaders:
        return None
    leader = leaders[int(rng.integers(len(leaders)))]
    lead_v = leader.velocities[0]
    lead_speed = float(np.hypot(*lead_v))
    if lead_speed < 1e-6:
        return None
    lag = int(math.ceil((leader.size_px / 2 + r + 3) / lead_speed))
    t = scene.num_frames
    if lag >= t // 2:
        return None
    moving = np.hypot(leader.velocities[:, 0], leader.velocities[:, 1]) > 1e-6
    stop = int(np.argmin(moving)) if not moving.all() else t  # the leader's first still frame
    taus = np.minimum(np.arange(t) - lag, stop - lag)
    pos = np.where((taus < 0)[:, None], leader.positions[0] + lead_v * taus[:, None],
                   leader.positions[np.clip(taus, 0, t - 1)])
    return pos, 0, leader.direction, leader.obj_id
