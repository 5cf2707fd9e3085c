"""The objects table: one row per object of a run (all trajectories of one object id), expandable to the
trajectories of its crops. Pure functions of an `AnswerPlan`; colours are `app.render.object_colours`."""
from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass

from app.render import TrajectoryRow, object_colours, score_text, trajectory_rows
from derrvos_core.objects import DRAWN_OBJECT_ID, object_label
from derrvos_core.store import CorrectionKind
from derrvos_core.store.corrections import AnswerPlan


@dataclass(frozen=True)
class ObjectRow:
    """One line of the objects table.

    Attributes:
        object_id: the object's id (`derrvos_core.objects` ranges).
        color: its overlay colour (RGB), the same as on the frame.
        score: the best score of its trajectories (None for a user-made object: no model scored it).
        frames_present: frames where one of its trajectories' masks (or, user-made, one of its edits that
            adds pixels) is not empty; first_frame, last_frame: their span (-1 when there are none).
        selected: in the answer (one of its trajectories is selected; user-made objects always are).
        forced: "accepted" / "rejected" when a human decided on all its decided trajectories alike,
            "mixed" when the decisions differ, "" when no one decided.
        user_made: made by a person, not by the model.
        trajectories: its trajectories' rows, best score first (empty for a user-made object).
    """

    object_id: int
    color: tuple[int, int, int]
    score: float | None
    frames_present: int
    first_frame: int
    last_frame: int
    selected: bool
    forced: str
    user_made: bool
    trajectories: tuple[TrajectoryRow, ...]


def object_rows(plan: AnswerPlan, decisions: dict[int, str]) -> list[ObjectRow]:
    """The model's objects best score first, then the user-made objects in id order."""
    colours = object_colours(plan)
    members: dict[int, list[TrajectoryRow]] = defaultdict(list)
    for row in trajectory_rows(plan, decisions):
        members[plan.object_of(row.trajectory_id)].append(row)
    by_id = {t.trajectory_id: t for t in plan.result.trajectories}
    rows = []
    for object_id, group in members.items():
        frames = sorted({f for r in group for f in by_id[r.trajectory_id].frames_present()})
        forced = {r.forced for r in group if r.forced}
        selected = any(r.selected for r in group)
        state = forced.pop() if len(forced) == 1 else ("mixed" if forced else "")
        painted = [] if selected else _edited_frames(plan, object_id)
        if painted:  # not in the answer, yet its painted frames are drawn: the table says so
            count = len(painted)
            note = f"its {count} painted frame{'' if count == 1 else 's'} drawn, nothing else"
            state = f"{state}; {note}" if state else note
        rows.append(_row(object_id, colours[object_id], max(r.score for r in group), frames, selected, state,
                         tuple(group)))
    rows.sort(key=lambda r: (-r.score, r.object_id))
    for obj in plan.objects:
        if obj.user_made:
            rows.append(_row(obj.object_id, colours.get(obj.object_id, colours[DRAWN_OBJECT_ID]), None,
                             _edited_frames(plan, obj.object_id), True, "", ()))
    return rows


def _row(object_id, colour, score, frames, selected, forced, trajectories) -> ObjectRow:
    return ObjectRow(object_id=object_id, color=colour, score=score, frames_present=len(frames),
                     first_frame=frames[0] if frames else -1, last_frame=frames[-1] if frames else -1,
                     selected=selected, forced=forced, user_made=score is None, trajectories=trajectories)


def _edited_frames(plan: AnswerPlan, object_id: int) -> list[int]:
    """Frames where an edit adds pixels to a user-made object (union strokes for the drawn object)."""
    named = None if object_id == DRAWN_OBJECT_ID else object_id
    return sorted(frame for frame, edits in plan.pixel_edits.items()
                  if any(e.object_id == named and e.kind is not CorrectionKind.ERASE for e in edits))


def _swatch(colour: tuple[int, int, int]) -> str:
    return (f"<span class='derrvos-swatch' style='display:inline-block;width:1.4em;height:1em;"
            f"border:1px solid #444;background:rgb{colour}'></span>")


def _span(row) -> str:
    return f"{row.first_frame}–{row.last_frame}" if row.frames_present else "—"


def _state(row) -> str:
    forced = row.forced
    if row.selected and forced == "rejected":  # still in the answer through a trajectory no one rejected
        forced = "some trajectories rejected"
    return ("✔" if row.selected else "✘") + (f" ({html.escape(forced)})" if forced else "")


def _trajectories_html(rows: tuple[TrajectoryRow, ...]) -> str:
    if not rows:
        return "made by hand"
    body = "".join(f"<tr><td>#{r.trajectory_id}</td><td>{score_text(r.score)}</td><td>{r.crop_index}</td>"
                   f"<td>{r.frames_present}</td><td>{_span(r)}</td><td>{_state(r)}</td></tr>" for r in rows)
    count = len(rows)
    return (f"<details><summary>{count} trajector{'y' if count == 1 else 'ies'}</summary>"
            "<table class='derrvos-crops'><tr><th>id</th><th>score</th><th>crop</th><th>frames</th>"
            f"<th>span</th><th>selected</th></tr>{body}</table></details>")


def objects_table_html(rows: list[ObjectRow]) -> str:
    """The objects table as HTML (swatches and `<details>` need HTML; a Dataframe would show text): the
    selected objects, then the others folded under one `<details>` (with linking off every trajectory is
    its own object: a long video has hundreds). Each row carries `data-object` (its id) and the class
    `sel` / `unsel`."""
    if not rows:
        return ("<p class='derrvos-empty'>No objects yet: load a video, type an expression and "
                "press Run.</p>")
    chosen = [r for r in rows if r.selected]
    others = [r for r in rows if not r.selected]
    parts = [_table(chosen) if chosen else "<p>No object is selected.</p>"]
    if others:
        count = len(others)
        parts.append(f"<details class='derrvos-unselected'><summary>{count} object{'' if count == 1 else 's'} "
                     f"not selected (best score first)</summary>{_table(others)}</details>")
    # The wrapper scrolls: a long video has many objects, the page stays compact.
    return f"<div class='derrvos-table-wrap'>{''.join(parts)}</div>"


def _table(rows: list[ObjectRow]) -> str:
    head = ("<tr><th>colour</th><th>object</th><th>score</th><th>frames present</th><th>span</th>"
            "<th>selected</th><th>per crop</th></tr>")
    body = []
    for r in rows:
        score = "drawn" if r.score is None else score_text(r.score)
        body.append(f"<tr class='{'sel' if r.selected else 'unsel'}' data-object='{r.object_id}'>"
                    f"<td>{_swatch(r.color)}</td><td>{object_label(r.object_id)}</td><td>{score}</td>"
                    f"<td>{r.frames_present}</td><td>{_span(r)}</td><td>{_state(r)}</td>"
                    f"<td>{_trajectories_html(r.trajectories)}</td></tr>")
    return f"<table class='derrvos-trajectories'>{head}{''.join(body)}</table>"
