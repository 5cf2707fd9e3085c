"""What an answer says about itself, in words: the phrases the model could not use, and why nothing is
selected. One wording for the app and the CLI."""
from __future__ import annotations

import math
from collections.abc import Sequence

from derrvos_core.result import TrajectoryResult, linked_score


def ignored_note(ignored: Sequence[str]) -> str:
    """"ignored: 'carrying a bag', 'road'" for the phrases the model could not use; "" when none."""
    return "ignored: " + ", ".join(f"'{phrase}'" for phrase in ignored) if ignored else ""


def best_score(trajectories: Sequence[TrajectoryResult]) -> float | None:
    """The highest score the threshold is compared with: one per object when crops are linked (as
    `select_trajectories` groups them), else per trajectory; None without trajectories."""
    groups: dict[object, list[TrajectoryResult]] = {}
    for t in trajectories:
        groups.setdefault(t.link_id if t.link_id >= 0 else ("own", t.trajectory_id), []).append(t)
    scores = [members[0].score if len(members) == 1 else linked_score(members) for members in groups.values()]
    return max(scores) if scores else None


def nothing_selected_note(trajectories: Sequence[TrajectoryResult], threshold: float) -> str:
    """Why an answer with no selected object is empty, and what to do about it."""
    best = best_score(trajectories)
    if best is None:
        return "No object was found in the video, so there is nothing to select."
    if best >= threshold:
        return (f"Nothing is selected: the objects that reached the threshold {threshold:.2f} were "
                "rejected by hand.")
    # rounded down: a threshold set to the number shown selects it
    shown = math.floor(best * 100) / 100
    return (f"No object reached the threshold {threshold:.2f}; the best scored {shown:.2f} — lower the "
            "threshold to see it.")
