"""Annotation helpers the app wires to clicks: pick by click and fix one frame, propagate.

- `pick`: `object_at` (which trajectory's mask lies under a click) and `mask_from_clicks` (a mask from
  positive and negative clicks: a fitting proposal, else OpenCV GrabCut), `ClickMask`, `ClickSettings`.
- `propagate`: `propagate_mask`, a generator of `Proposal`s from a corrected frame forward or backward
  (DIS optical flow, optionally snapped to the trajectory's own masks), ending with a
  `PropagationSummary` that says why it stopped; `PropagationSettings`.
- `flow` (dense flow and mask warping) and `mask_ops` (IoU, clean-up) serve them.

Everything here is a pure function of frames and masks (uint8 [H, W, 3] RGB, bool [H, W]): no store and
no model. This package's names are its interface.
"""
from derrvos_core.annotation.pick import ClickMask, ClickSettings, mask_from_clicks, object_at
from derrvos_core.annotation.propagate import (PropagationSettings, PropagationSummary, Proposal, StopReason,
                                               propagate_mask)

__all__ = ["ClickMask", "ClickSettings", "PropagationSettings", "PropagationSummary", "Proposal",
           "StopReason",
           "mask_from_clicks", "object_at", "propagate_mask"]
