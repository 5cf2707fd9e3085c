"""Panel 4, Correction: on the current frame, accept or reject a trajectory, paint pixels in or out of
the answer with the image editor's brush, undo. Each correction is stored at once."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.panels.common import PRIVATE, PanelEvents, session_id, shows_errors, user_name

BRUSH_COLOUR = "#ff00ff"


@dataclass(frozen=True)
class CorrectionPanel:
    frame_note: gr.Markdown
    trajectory: gr.Dropdown
    accept: gr.Button
    reject: gr.Button
    editor: gr.ImageEditor
    add_pixels: gr.Button
    remove_pixels: gr.Button
    undo: gr.Button
    status: gr.Markdown


def build_correction_panel() -> CorrectionPanel:
    gr.Markdown("### 4 · Correction")
    frame_note = gr.Markdown("*Load a video and run to correct its answer.*", elem_id="correction-frame")
    with gr.Row(equal_height=True):
        trajectory = gr.Dropdown(choices=[], label="Trajectory on this frame", scale=2,
                                 elem_id="trajectory-choice")
        accept = gr.Button("Accept", scale=1, elem_id="accept")
        reject = gr.Button("Reject", scale=1, elem_id="reject")
    editor = gr.ImageEditor(label="Paint on the frame, then add or remove the painted pixels", type="numpy",
                            image_mode="RGBA", sources=(), transforms=(), layers=False,
                            brush=gr.Brush(colors=[BRUSH_COLOUR], default_color=BRUSH_COLOUR,
                                           color_mode="fixed"),
                            eraser=gr.Eraser(), height=460, elem_id="editor")
    with gr.Row():
        add_pixels = gr.Button("Add painted pixels", elem_id="add-pixels")
        remove_pixels = gr.Button("Remove painted pixels", elem_id="remove-pixels")
        undo = gr.Button("Undo", elem_id="undo")
    status = gr.Markdown("", elem_id="correction-status")
    return CorrectionPanel(frame_note, trajectory, accept, reject, editor, add_pixels, remove_pixels, undo,
                           status)


def wire_correction_panel(panel: CorrectionPanel, service, frame: gr.Slider) -> PanelEvents:
    """`frame` is the viewer's scrubber: corrections apply to the frame on screen. Every correction
    changes the answer (`answer_changed`); `refresh` redraws the frame note, the editor's background and
    the trajectory picker. Errors stay in the status line under the buttons."""

    def who(request: gr.Request) -> tuple[str, str | None]:
        return session_id(request), user_name(request)

    def on_decision(kind: str, trajectory_id, request: gr.Request) -> str:
        sid, user = who(request)
        act = service.accept if kind == "accept" else service.reject
        record = act(sid, trajectory_id, user)
        verb = "accepted" if kind == "accept" else "rejected"
        return f"Trajectory #{record.trajectory_id} {verb} (correction #{record.id}, saved)."

    def on_pixels(kind: str, editor_value: dict, index: float, request: gr.Request) -> str:
        sid, user = who(request)
        mask = service.painted(sid, editor_value)
        act = service.draw if kind == "add" else service.erase
        record = act(sid, int(index), mask, user)
        verb = "added to" if kind == "add" else "removed from"
        return f"{int(mask.sum())} pixels {verb} frame {record.frame} (correction #{record.id}, saved)."

    @shows_errors()
    def on_undo(request: gr.Request) -> str:
        sid, user = who(request)
        record = service.undo(sid, user)
        return f"Undid correction #{record.target_id} (saved as correction #{record.id})."

    @shows_errors(outputs=3, status=0)
    def redraw(index: float, request: gr.Request):
        view = service.correction_view(session_id(request), int(index))
        if view.num_frames == 0:
            return "", None, gr.Dropdown(choices=[], value=None)
        note = f"Correcting **frame {view.index}** of {view.num_frames}" + \
            ("" if view.has_run else " (run first: corrections apply to a run)")
        choices = [(f"#{c.trajectory_id} · score {c.score:.2f} · "
                    f"{'selected' if c.selected else 'not selected'}",
                    c.trajectory_id) for c in view.choices]
        return (note, {"background": view.background, "layers": [], "composite": None},
                gr.Dropdown(choices=choices, value=choices[0][1] if choices else None))

    @shows_errors()
    def on_accept(trajectory_id, request: gr.Request) -> str:
        return on_decision("accept", trajectory_id, request)

    @shows_errors()
    def on_reject(trajectory_id, request: gr.Request) -> str:
        return on_decision("reject", trajectory_id, request)

    @shows_errors()
    def on_add(editor_value: dict, index: float, request: gr.Request) -> str:
        return on_pixels("add", editor_value, index, request)

    @shows_errors()
    def on_remove(editor_value: dict, index: float, request: gr.Request) -> str:
        return on_pixels("remove", editor_value, index, request)

    changed = (
        panel.accept.click(on_accept, [panel.trajectory], [panel.status], **PRIVATE),
        panel.reject.click(on_reject, [panel.trajectory], [panel.status], **PRIVATE),
        panel.add_pixels.click(on_add, [panel.editor, frame], [panel.status], **PRIVATE),
        panel.remove_pixels.click(on_remove, [panel.editor, frame], [panel.status], **PRIVATE),
        panel.undo.click(on_undo, None, [panel.status], **PRIVATE),
    )

    outputs = [panel.frame_note, panel.editor, panel.trajectory]

    def refresh(event, kind: str):
        return event.success(redraw, [frame], outputs, show_progress="hidden", **PRIVATE)

    frame.input(redraw, [frame], outputs, trigger_mode="always_last", show_progress="hidden", **PRIVATE)
    return PanelEvents(answer_changed=changed, refresh=refresh)
