"""The fitted numbers of the fact selector: one frozen value, saved in the real model's config."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from derrvos_core.errors import InputError


@dataclass(frozen=True)
class SelectorParams:
    """How strongly each part of an expression counts. Defaults are hand-set starting points;
    `training/fit_real_selector.py` fits them on the RealRef tuning split."""

    #: Exponent on the class match (mass of the trajectory's class distribution on the asked classes).
    class_power: float = 1.0
    #: Class match below which a trajectory takes no part in rankings ("the leftmost person").
    candidate_floor: float = 0.3
    #: Exponent on the branch's own trajectory score (detection confidence and presence).
    quality_power: float = 0.5
    #: Score factor per place away from an asked rank ("the second from the left": 3rd -> x decay).
    rank_decay: float = 0.35
    #: Sharpness of soft place terms ("on the left"): relative position among candidates ** power.
    soft_power: float = 1.0
    #: Gap in colour fit (see `terms.colour_fit`) to the best-fitting candidate that costs a factor e.
    colour_width: float = 0.15
    #: Colour fit at which an object half counts as the asked colour at all (the best-fitting van is
    #: still no "red car"); the transition is 0.1 wide.
    colour_min: float = 0.2
    #: Factor on every trajectory when the expression relates the target to an object of a COCO class
    #: ("riding a bicycle") and no trajectory of that class is in the crop.
    related_missing: float = 0.3
    #: Speed (object heights per frame) at which an object starts counting as moving.
    moving_speed: float = 0.012
    #: Width of the moving / still transition (heights per frame).
    speed_width: float = 0.006
    #: Net displacement (frame fractions) that makes a direction of travel clear.
    direction_width: float = 0.03
    #: Factor on every candidate but the best when one target is asked (or past the n best for "the n").
    count_factor: float = 0.6

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> SelectorParams:
        """Refuses unknown names and non-numbers, naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown selector parameters {unknown}; known: {sorted(known)}")
        bad = [k for k, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, float))
               or not float(v) == float(v) or float(v) < 0 or float(v) > 1e3]
        if bad:
            raise InputError(f"selector parameters {bad} must be numbers in [0, 1000]")
        return cls(**{k: float(v) for k, v in values.items()})
