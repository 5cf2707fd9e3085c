"""Panel 3, Viewer: the current frame with each object of the answer in its colour, a timeline strip (a row
per selected object, a row of weak frames), a note on the answer, the frame scrubber with play / pause and
step buttons (← / → on the keyboard, Shift for 10), overlay opacity and outline-only, pick by click
(select / deselect the object under the pointer, or make a new one from + / − clicks), and the objects
table.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from app.object_table import objects_table_html
from app.panels.common import PRIVATE, PanelEvents, session_id, shows_errors, user_name
from app.picking import ClickMode, Picker
from app.render import AnswerSummary, OverlayStyle, score_text, threshold_text
from derrvos_core.objects import object_label

PLAY_INTERVAL_S = 0.25
"""Frames advance this often while playing (a redraw on a 2-core machine takes about 0.1 s)."""
#: The queue slot of every handler that draws a frame into the viewer (one at a time, in order).
VIEWER_QUEUE = "viewer-frame"

KEYBOARD_JS = """
() => {
  if (window.derrvosKeys) return;
  window.derrvosKeys = true;
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    const typing = t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) &&
      !(t.tagName === 'INPUT' && t.type === 'range');
    if (typing || e.altKey || e.ctrlKey || e.metaKey) return;
    const ids = {ArrowLeft: e.shiftKey ? 'frame-back10' : 'frame-back1',
                 ArrowRight: e.shiftKey ? 'frame-fwd10' : 'frame-fwd1'};
    const button = ids[e.key] && document.getElementById(ids[e.key]);
    if (button) { e.preventDefault(); button.click(); }
  });
}
"""
"""Installed once by the page's load event: ← / → click the step buttons unless a text box has focus."""


@dataclass(frozen=True)
class ViewerPanel:
    frame: gr.Slider
    image: gr.Image
    timeline: gr.Image
    note: gr.Markdown
    status: gr.Markdown
    table: gr.HTML
    steps: tuple[gr.Button, ...]
    play: gr.Button
    timer: gr.Timer
    playing: gr.State
    mode: gr.Radio
    opacity: gr.Slider
    outline: gr.Checkbox
    accept_object: gr.Button
    clear_clicks: gr.Button
    draft: gr.State


STEPS = ((-10, "« −10", "frame-back10"), (-1, "‹ −1", "frame-back1"), (1, "+1 ›", "frame-fwd1"),
         (10, "+10 »", "frame-fwd10"))


def step_button(label: str, elem_id: str) -> gr.Button:
    return gr.Button(label, size="sm", elem_id=elem_id, min_width=60)


def build_viewer_panel() -> ViewerPanel:
    gr.Markdown("### 3 · Viewer")
    image = gr.Image(label="Current frame with the answer overlaid (click an object to pick it)",
                     type="numpy", interactive=False, format="png", buttons=["download", "fullscreen"],
                     height=420,
                     elem_id="overlay")
    timeline = gr.Image(None, type="numpy", interactive=False, format="png", show_label=False, buttons=[],
                        height=70, container=False, elem_id="timeline")
    gr.Markdown("Timeline: a row per selected object where it is present; the grey row marks weak frames "
                "(no selected object scores at the threshold). Click it to go to a frame.",
                elem_classes=["derrvos-small"])
    note = gr.Markdown("", elem_id="answer-note")
    frame = gr.Slider(0, 1, value=0, step=1, label="Frame", elem_id="frame")
    with gr.Row():
        back10, back1 = (step_button(label, eid) for _, label, eid in STEPS[:2])
        play = gr.Button("▶ Play", size="sm", elem_id="play", min_width=80)
        fwd1, fwd10 = (step_button(label, eid) for _, label, eid in STEPS[2:])
    timer = gr.Timer(PLAY_INTERVAL_S, active=False)
    with gr.Row():
        mode = gr.Radio([m.value for m in ClickMode], value=ClickMode.PICK.value, label="Click on the frame",
                        elem_id="click-mode")
        opacity = gr.Slider(0.0, 1.0, value=OverlayStyle().opacity, step=0.05, label="Overlay opacity",
                            elem_id="opacity")
        outline = gr.Checkbox(False, label="Outline only", elem_id="outline-only")
    with gr.Row():
        accept_object = gr.Button("Accept object", size="sm", elem_id="accept-object")
        clear_clicks = gr.Button("Clear clicks", size="sm", elem_id="clear-clicks")
    status = gr.Markdown("", elem_id="viewer-status")
    table = gr.HTML(objects_table_html([]), elem_id="trajectory-table")
    return ViewerPanel(frame, image, timeline, note, status, table, (back10, back1, fwd1, fwd10), play, timer,
                       gr.State(False), mode, opacity, outline, accept_object, clear_clicks, gr.State(None))


def wire_viewer_panel(panel: ViewerPanel, picker: Picker) -> PanelEvents:
    """Scrubbing, stepping, playing and the overlay controls redraw the frame; a pick or an accepted
    object changes the answer (`answer_changed`); `refresh` redraws everything after any panel's event and
    opens a new run at the first frame where a selected object is present. Errors stay in the viewer's
    status line.

    Every handler that puts a frame in the viewer shares one queue slot (`VIEWER_QUEUE`, one at a time):
    a redraw an earlier event queued (after Accept, say) and a scrub made meanwhile ran side by side
    before, and the redraw, done last, put the frame the user had left back on screen."""
    look = [panel.opacity, panel.outline, panel.draft]
    drawn = {"concurrency_id": VIEWER_QUEUE, "concurrency_limit": 1, "show_progress": "hidden", **PRIVATE}
    shown = [panel.frame, panel.image, panel.timeline, panel.status]

    def view(request: gr.Request, index: int, opacity: float, outline: bool, draft):
        style = OverlayStyle(float(opacity), bool(outline))
        return picker.viewer_view(session_id(request), int(index), style, draft)

    def moved(request: gr.Request, v):
        """The user moved the viewer to `v`: later redraws of this tab start from its frame."""
        picker.sessions.get(session_id(request)).viewer_frame = v.index
        return v

    def frame_outputs(v, asked: int | None = None) -> tuple:
        """The scrubber is set only where it must move (a step, or a frame past the end): a scrub the user
        made while this frame was drawn is kept, and so is the deferred redraw that follows it."""
        strip = None if v.timeline is None else v.timeline.image
        scrubber = gr.skip() if v.index == asked else gr.Slider(value=v.index)
        return scrubber, v.image, strip, gr.skip()

    @shows_errors(outputs=4, status=3)
    def show_frame(index: float, opacity: float, outline: bool, draft, request: gr.Request):
        return frame_outputs(moved(request, view(request, index, opacity, outline, draft)), int(index))

    def stepper(delta: int):
        @shows_errors(outputs=4, status=3)
        def step(index: float, opacity: float, outline: bool, draft, request: gr.Request):
            return frame_outputs(moved(request, view(request, int(index) + delta, opacity, outline, draft)))
        return step

    @shows_errors(outputs=6, status=3)
    def tick(index: float, opacity: float, outline: bool, draft, request: gr.Request):
        v = moved(request, view(request, int(index) + 1, opacity, outline, draft))
        at_end = v.num_frames == 0 or v.index >= v.num_frames - 1
        stop = (gr.Timer(active=False), "▶ Play", False) if at_end else (gr.skip(), gr.skip(), gr.skip())
        return (*frame_outputs(v), *stop)

    def toggle(playing: bool):
        playing = not playing
        return gr.Timer(active=playing), "⏸ Pause" if playing else "▶ Play", playing

    @shows_errors(outputs=4, status=3)
    def jump(opacity: float, outline: bool, draft, evt: gr.SelectData, request: gr.Request):
        v = view(request, 0, opacity, outline, draft)
        if v.timeline is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return frame_outputs(moved(request, view(request, v.timeline.frame_at(evt.index[0]), opacity, outline,
                                                 draft)))

    @shows_errors(outputs=2, status=1)
    def on_click(mode: str, index: float, draft, evt: gr.SelectData, request: gr.Request):
        sid = session_id(request)
        x, y = picker.video_point(sid, evt.index[0], evt.index[1])
        if mode == ClickMode.PICK.value:
            done = picker.pick(sid, int(index), x, y, user_name(request))
            count = len(done.trajectory_ids)
            state = "selected" if done.selected else "deselected"
            return None, (f"Object {object_label(done.object_id)} {state} over the whole video ({count} "
                          f"trajector{'y' if count == 1 else 'ies'}); Undo takes it back.")
        draft = picker.click(sid, draft, int(index), x, y, positive=mode == ClickMode.POSITIVE.value)
        marks = draft.marks
        return draft, (f"New object on frame {marks.frame}: {len(marks.positives)} + and "
                       f"{len(marks.negatives)} − clicks. Press Accept object to keep the outlined mask.")

    @shows_errors(outputs=2, status=1)
    def on_accept(draft, request: gr.Request):
        object_id, record = picker.accept_object(session_id(request), draft, user_name(request))
        return None, (f"Object {object_label(object_id)} stored on frame {record.frame}; the correction "
                      "panel can propagate it.")

    def on_clear():
        return None, "Clicks cleared."

    def everything(request: gr.Request, frame: float, opacity: float, outline: bool, draft, opening: bool):
        session = picker.sessions.get(session_id(request))
        if session.viewer_frame is not None and not opening:
            frame = session.viewer_frame  # `frame` was read when the event that queued this redraw began
        v = view(request, frame, opacity, outline, draft)
        if v.num_frames == 0:
            return gr.Slider(maximum=1, value=0), None, None, gr.skip(), objects_table_html([])
        if opening:
            v = moved(request, view(request, v.first_frame, opacity, outline, draft))
        elif session.viewer_frame not in (None, v.index):  # the user moved on while this frame was drawn
            v = view(request, session.viewer_frame, opacity, outline, draft)
        last = max(v.num_frames - 1, 1)
        # The value is set only when it must move: a user's scrub made meanwhile is kept.
        scrubber = gr.Slider(maximum=last, value=v.index) if v.index != int(frame) else \
            gr.Slider(maximum=last)
        return scrubber, v.image, None if v.timeline is None else v.timeline.image, answer_note(v.answer), \
            objects_table_html(list(v.objects))

    @shows_errors(outputs=5, status=3)
    def redraw(frame: float, opacity: float, outline: bool, draft, request: gr.Request):
        return everything(request, frame, opacity, outline, draft, opening=False)

    @shows_errors(outputs=5, status=3)
    def opened(frame: float, opacity: float, outline: bool, draft, request: gr.Request):
        return everything(request, frame, opacity, outline, draft, opening=True)

    # `.input` (dragging or typing a number), not `.change`: a redraw that only moves the slider's
    # maximum must not render the same frame twice at once.
    panel.frame.input(show_frame, [panel.frame, *look], shown, trigger_mode="always_last", **drawn)
    for button, (delta, _, _) in zip(panel.steps, STEPS):
        button.click(stepper(delta), [panel.frame, *look], shown, **drawn)
    panel.timer.tick(tick, [panel.frame, *look], [*shown, panel.timer, panel.play, panel.playing],
                     trigger_mode="once", **drawn)
    panel.play.click(toggle, [panel.playing], [panel.timer, panel.play, panel.playing], **PRIVATE)
    panel.timeline.select(jump, look, shown, **drawn)
    for control in (panel.opacity, panel.outline):
        control.input(show_frame, [panel.frame, *look], shown, trigger_mode="always_last", **drawn)
    picked = panel.image.select(on_click, [panel.mode, panel.frame, panel.draft], [panel.draft, panel.status],
                                show_progress="hidden", **PRIVATE)
    accepted = panel.accept_object.click(on_accept, [panel.draft], [panel.draft, panel.status], **PRIVATE)
    cleared = panel.clear_clicks.click(on_clear, None, [panel.draft, panel.status], **PRIVATE)
    cleared.then(show_frame, [panel.frame, *look], shown, **drawn)

    def refresh(event, kind: str):
        handler = opened if kind in ("ran", "reloaded") else redraw
        return event.success(handler, [panel.frame, *look],
                             [panel.frame, panel.image, panel.timeline, panel.note, panel.table], **drawn)
    return PanelEvents(answer_changed=(picked, accepted), refresh=refresh)


def answer_note(answer: AnswerSummary | None) -> str:
    """Markdown beside the overlay: the answer in a line, then what the model ignored."""
    if answer is None:
        return ""
    if answer.selected:
        shown = ", ".join(f"#{tid} ({score_text(score)})" for tid, score in answer.selected[:6])
        more = f" and {len(answer.selected) - 6} more" if len(answer.selected) > 6 else ""
        count = len(answer.selected)
        lines = [f"**Answer:** {count} trajector{'y' if count == 1 else 'ies'} selected at threshold "
                 f"{threshold_text(answer.threshold)}: {shown}{more}."]
    else:
        lines = [f"**Answer: nothing selected.** {html.escape(answer.empty_note, quote=False)}"]
    if answer.drawn:
        lines.append("Pixels drawn by hand are part of it (white where no trajectory covers them).")
    if answer.ignored_note:
        lines.append(f"⚠ {html.escape(answer.ignored_note, quote=False)}")
    return "  \n".join(lines)
