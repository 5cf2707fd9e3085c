"""Panel 4, Correction: on the current frame, accept or reject a trajectory, paint pixels in or out of an
object with the image editor's brush, propagate the corrected object to later (or earlier) frames and
accept the proposals in one action, undo. Each correction is stored at once.

The editor's frame travels with its content (`target` and `editor_frame`, set in the event that sets its
background), and the browser stamps the frame each stroke is drawn on (`stroke_frame`, set in the page,
no server trip): Add and Remove write to the frame the strokes were drawn on, however far
the viewer moved since, and refuse strokes whose frame is unknown."""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import gradio as gr
import numpy as np

from app.panels.common import PRIVATE, PanelEvents, error_line, page_text, sentence, session_id, \
    shows_errors, user_name
from app.propagation import NEW_OBJECT, PropagationStep
from derrvos_core.errors import DeRVOSError, InputError
from derrvos_core.objects import object_label
from derrvos_core.store import CorrectionKind

BRUSH_COLOUR = "#ff00ff"
PROPOSAL_COLOUR = (0, 255, 255)
BRUSH_SHARE = 0.01
"""Default brush diameter as a share of the editor image's width (at least MIN_BRUSH_PX)."""
MIN_BRUSH_PX = 3


@dataclass(frozen=True)
class CorrectionPanel:
    frame_note: gr.Markdown
    trajectory: gr.Dropdown
    accept: gr.Button
    reject: gr.Button
    object_choice: gr.Dropdown
    editor: gr.ImageEditor
    target: gr.State
    editor_frame: gr.Number
    stroke_frame: gr.Number
    add_pixels: gr.Button
    remove_pixels: gr.Button
    undo: gr.Button
    status: gr.Markdown
    end_frame: gr.Number
    propagate: gr.Button
    cancel: gr.Button
    accept_propagated: gr.Button
    discard: gr.Button
    propagation_status: gr.Markdown


def build_correction_panel() -> CorrectionPanel:
    gr.Markdown("### 4 · Correction")
    frame_note = gr.Markdown("*Load a video and run to correct its answer.*", elem_id="correction-frame")
    with gr.Row(equal_height=True):
        trajectory = gr.Dropdown(choices=[], label="Trajectory on this frame", scale=2,
                                 info="Accept or Reject decides for every frame the trajectory covers",
                                 elem_id="trajectory-choice")
        accept = gr.Button("Accept trajectory", scale=1, elem_id="accept")
        reject = gr.Button("Reject trajectory", scale=1, elem_id="reject")
    object_choice = gr.Dropdown(choices=[("new object", NEW_OBJECT)], value=NEW_OBJECT,
                                label="Object to paint and propagate", elem_id="object-choice")
    editor = gr.ImageEditor(label="Paint on the frame, then add or remove the painted pixels", type="numpy",
                            image_mode="RGBA", sources=(), transforms=(), layers=False,
                            brush=brush(MIN_BRUSH_PX), eraser=gr.Eraser(), height=460, elem_id="editor")
    target = gr.State(None)
    editor_frame = gr.Number(-1, precision=0, visible="hidden", elem_id="editor-frame")
    stroke_frame = gr.Number(-1, precision=0, visible="hidden", elem_id="stroke-frame")
    with gr.Row():
        add_pixels = gr.Button("Add painted pixels", elem_id="add-pixels")
        remove_pixels = gr.Button("Remove painted pixels", elem_id="remove-pixels")
        undo = gr.Button("Undo last correction", elem_id="undo")
    status = gr.Markdown("", elem_id="correction-status")
    with gr.Row(equal_height=True):
        end_frame = gr.Number(value=0, precision=0, label="Propagate to frame", scale=1, elem_id="end-frame")
        propagate = gr.Button("Propagate", scale=1, elem_id="propagate")
        cancel = gr.Button("Cancel propagation", scale=1, elem_id="cancel-propagation")
    with gr.Row():
        accept_propagated = gr.Button("Accept propagated frames", elem_id="accept-propagated")
        discard = gr.Button("Discard", elem_id="discard-propagated")
    propagation_status = gr.Markdown("", elem_id="propagation-status")
    return CorrectionPanel(frame_note, trajectory, accept, reject, object_choice, editor, target,
                           editor_frame, stroke_frame, add_pixels,
                           remove_pixels, undo, status, end_frame, propagate, cancel, accept_propagated,
                           discard, propagation_status)


def brush(size: int) -> gr.Brush:
    return gr.Brush(default_size=size, colors=[BRUSH_COLOUR], default_color=BRUSH_COLOUR, color_mode="fixed")


def brush_size(width: int) -> int:
    """The default brush for an editor image `width` pixels wide: about 1% of it, at least 3 px."""
    return max(MIN_BRUSH_PX, round(BRUSH_SHARE * width))


def outlined(background: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """`background` with `mask` (bool at the video's size; upscaled to the background) outlined."""
    if mask is None or not mask.any():
        return background
    height, width = background.shape[:2]
    big = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    thickness = max(1, width // 200)
    edge = cv2.dilate(big, np.ones((2 * thickness + 1,) * 2, np.uint8)) - big
    image = background.copy()
    image[edge.astype(bool)] = PROPOSAL_COLOUR
    return image


def stroke_target(target, stroke, painted: bool):
    """The editor's target moved to the frame the strokes were drawn on (`stroke`, stamped in the page).
    InputError when strokes lie in the editor but no stroke was stamped (the page did not report them):
    nothing is saved rather than guessing."""
    if target is None or not painted:
        return target
    if stroke is None or int(stroke) < 0:
        raise InputError(f"the page did not say which frame these strokes were painted on (the editor now "
                         f"shows frame {target.frame}): nothing was saved. Paint them again")
    return replace(target, frame=int(stroke))


def wire_correction_panel(panel: CorrectionPanel, service, frame: gr.Slider) -> PanelEvents:
    """`frame` is the viewer's scrubber: the editor follows it. Every correction changes the answer
    (`answer_changed`); `refresh` redraws the frame note, the editor (background, target, proposals
    outlined), the pickers, and after another video or run clears the status lines. Errors stay in the
    status line under the buttons."""
    redraw = _redraw(panel, service)
    outputs = [panel.frame_note, panel.editor, panel.trajectory, panel.object_choice, panel.target,
               panel.end_frame, panel.editor_frame]
    inputs = [frame, panel.object_choice, panel.target, panel.end_frame]
    changed = _wire_corrections(panel, service) + _wire_propagation(panel, service, redraw, inputs, outputs)

    @shows_errors(outputs=2, status=0)
    def clear(request: gr.Request):
        return "", ""

    def refresh(event, kind: str):
        if kind in ("video_loaded", "ran", "reloaded"):  # their lines were about another run
            event = event.success(clear, None, [panel.status, panel.propagation_status],
                                  show_progress="hidden", **PRIVATE)
        return event.success(redraw, inputs, outputs, show_progress="hidden", **PRIVATE)

    frame.input(redraw, inputs, outputs, trigger_mode="always_last", show_progress="hidden", **PRIVATE)
    return PanelEvents(answer_changed=changed, refresh=refresh)


def _redraw(panel: CorrectionPanel, service):
    @shows_errors(outputs=7, status=0)
    def redraw(index: float, object_choice, target, end_frame, request: gr.Request):
        sid = session_id(request)
        view = service.correction_view(sid, int(index))
        if view.num_frames == 0:
            return ("", None, gr.Dropdown(choices=[], value=None),
                    gr.Dropdown(choices=[("new object", NEW_OBJECT)], value=NEW_OBJECT), None, 0, -1)
        note = f"Correcting **frame {view.index}** of {view.num_frames}" + \
            ("" if view.has_run else " (run first: corrections apply to a run)")
        choices = [(f"#{c.trajectory_id} · score {c.score:.2f} · "
                    f"{'selected' if c.selected else 'not selected'}",
                    c.trajectory_id) for c in view.choices]
        editor = editor_frame(service, sid, view)
        objects = [(o.label, o.object_id) for o in service.propagation.objects(sid, view.index)]
        moved = target is None or target.frame != view.index
        keep = paint_choice(object_choice, [v for _, v in objects], service.propagation.object_ids(sid),
                            moved)
        if keep != NEW_OBJECT and keep not in [v for _, v in objects]:
            objects.append((f"object {object_label(keep)} · not on this frame", keep))
        objects.append(("new object", NEW_OBJECT))
        end = service.propagation.default_end(sid, view.index) if moved else gr.skip()
        return (note, editor, gr.Dropdown(choices=choices, value=choices[0][1] if choices else None),
                gr.Dropdown(choices=objects, value=keep), service.propagation.target(sid, view.index), end,
                view.index)
    return redraw


def editor_frame(service, sid: str, view) -> gr.ImageEditor:
    """The editor at `view`'s frame (proposals outlined), with an empty brush layer."""
    background = outlined(view.background, service.propagation.proposal(sid, view.index))
    return gr.ImageEditor(value={"background": background, "layers": [], "composite": None},
                          brush=brush(brush_size(background.shape[1])))


def paint_choice(choice, on_frame: list[int], in_answer: tuple[int, ...], moved: bool):
    """The object the painter and propagation act on after a redraw (`moved`: the editor came to another
    frame, or a video or run was just loaded). An object of the answer stays picked, also on a frame it
    has no pixels on (to paint it where the model lost it). On another frame "new object" becomes the
    frame's first object (ready to propagate). An object that is gone (its correction undone) becomes
    "new object" on the same frame, never another object: a stroke must not land on an object the user
    did not pick."""
    if choice != NEW_OBJECT and choice in in_answer:
        return choice
    if moved and on_frame:
        return on_frame[0]
    return NEW_OBJECT


def _wire_corrections(panel: CorrectionPanel, service) -> tuple:
    def who(request: gr.Request) -> tuple[str, str | None]:
        return session_id(request), user_name(request)

    def on_decision(kind: str, trajectory_id, request: gr.Request) -> str:
        sid, user = who(request)
        act = service.accept if kind == "accept" else service.reject
        record = act(sid, trajectory_id, user)
        verb = "accepted" if kind == "accept" else "rejected"
        return (f"Trajectory #{record.trajectory_id} {verb} on every frame it covers "
                f"(correction #{record.id}, saved).")

    def on_pixels(kind: CorrectionKind, editor_value: dict, target, stroke, object_choice,
                  request: gr.Request):
        sid, user = who(request)
        mask = service.painted(sid, editor_value)
        target = stroke_target(target, stroke, bool(mask.any()))
        record = service.propagation.paint(sid, kind, target, mask, object_choice, user)
        verb = "added to" if kind is CorrectionKind.DRAW else "removed from"
        what = "" if record.object_id is None else f" (object {object_label(record.object_id)})"
        line = f"{int(mask.sum())} pixels {verb} frame {record.frame}{what} (correction #{record.id}, saved)."
        # the saved strokes leave the brush layer now (left there, the next Remove of another stroke would
        # take the added pixels out again): the frame comes back with the correction drawn in. The redraw
        # after this event alone often did not clear them
        editor = editor_frame(service, sid, service.correction_view(sid, record.frame))
        if record.object_id is None:
            return line, gr.skip(), editor
        # a new object stays picked, ready to propagate (the redraw that follows lists it with the rest)
        return line, gr.Dropdown(choices=[(f"object {object_label(record.object_id)}", record.object_id),
                                          ("new object", NEW_OBJECT)], value=record.object_id), editor

    @shows_errors()
    def on_undo(request: gr.Request) -> str:
        sid, user = who(request)
        record = service.undo(sid, user)
        return f"Undid correction #{record.target_id} (saved as correction #{record.id})."

    @shows_errors()
    def on_accept(trajectory_id, request: gr.Request) -> str:
        return on_decision("accept", trajectory_id, request)

    @shows_errors()
    def on_reject(trajectory_id, request: gr.Request) -> str:
        return on_decision("reject", trajectory_id, request)

    @shows_errors(outputs=3, status=0)
    def on_add(editor_value: dict, target, stroke, object_choice, request: gr.Request):
        return on_pixels(CorrectionKind.DRAW, editor_value, target, stroke, object_choice, request)

    @shows_errors(outputs=3, status=0)
    def on_remove(editor_value: dict, target, stroke, object_choice, request: gr.Request):
        return on_pixels(CorrectionKind.ERASE, editor_value, target, stroke, object_choice, request)

    paint_inputs = [panel.editor, panel.target, panel.stroke_frame, panel.object_choice]
    pixels_outputs = [panel.status, panel.object_choice, panel.editor]
    pixels_events = {"show_progress_on": [panel.status], **PRIVATE}  # no spinner over the editor's frame
    # in the page, at once: each stroke stamps the frame of the background it was drawn on
    panel.editor.input(None, [panel.editor_frame], [panel.stroke_frame], js="(frame) => frame", **PRIVATE)
    return (
        panel.accept.click(on_accept, [panel.trajectory], [panel.status], **PRIVATE),
        panel.reject.click(on_reject, [panel.trajectory], [panel.status], **PRIVATE),
        panel.add_pixels.click(on_add, paint_inputs, pixels_outputs, **pixels_events),
        panel.remove_pixels.click(on_remove, paint_inputs, pixels_outputs, **pixels_events),
        panel.undo.click(on_undo, None, [panel.status], **PRIVATE),
    )


def _wire_propagation(panel: CorrectionPanel, service, redraw, inputs, outputs) -> tuple:
    """Propagate streams its progress into the propagation line, then outlines the proposals; Accept
    stores them (`answer_changed`); Discard drops them."""

    def on_propagate(object_choice, target, end_frame, request: gr.Request):
        sid = session_id(request)
        try:
            if target is None:
                raise InputError("the editor shows no frame yet: wait for the frame to appear")
            for step in service.propagation.propagate(sid, object_choice, target.frame, end_frame):
                if isinstance(step, PropagationStep):
                    yield (f"Propagating: {step.done} of {step.total} frames (frame {step.frame}, "
                           f"confidence {step.confidence:.2f}) — Cancel stops it.")
                else:
                    yield f"{step.line}. Accept them (one action, one Undo) or Discard."
        except DeRVOSError as exc:
            gr.Warning(page_text(sentence(str(exc))), title="Cannot do that")
            yield error_line(sentence(str(exc)))

    @shows_errors()
    def on_cancel(request: gr.Request) -> str:
        if service.propagation.cancel(session_id(request)):
            return "Cancelling: the propagation stops after the frame in progress."
        return "No propagation was in progress."

    @shows_errors()
    def on_accept(request: gr.Request) -> str:
        records = service.propagation.accept(session_id(request), user_name(request))
        span = f"{records[0].frame}–{records[-1].frame}"
        return (f"Accepted {len(records)} propagated frames (frames {span}, "
                f"one action: Undo last correction takes them all back).")

    @shows_errors()
    def on_discard(request: gr.Request) -> str:
        count = service.propagation.discard(session_id(request))
        return f"Discarded {count} proposed frames." if count else "No proposed frames to discard."

    ran = panel.propagate.click(on_propagate, [panel.object_choice, panel.target, panel.end_frame],
                                [panel.propagation_status], **PRIVATE)
    ran.then(redraw, inputs, outputs, show_progress="hidden", **PRIVATE)
    panel.cancel.click(on_cancel, None, [panel.propagation_status], concurrency_limit=None,
                       show_progress="hidden", **PRIVATE)
    discarded = panel.discard.click(on_discard, None, [panel.propagation_status], **PRIVATE)
    discarded.then(redraw, inputs, outputs, show_progress="hidden", **PRIVATE)
    return (panel.accept_propagated.click(on_accept, None, [panel.propagation_status], **PRIVATE),)

