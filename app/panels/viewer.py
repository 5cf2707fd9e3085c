"""Panel 3, Viewer: the current frame with each selected trajectory in its colour, a note on the answer
(what is selected, what the model ignored, why nothing is), a frame scrubber, and the trajectory table
(colour, score, frames present, selected)."""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from app.panels.common import PRIVATE, PanelEvents, session_id, shows_errors
from app.render import AnswerSummary, trajectory_table_html


@dataclass(frozen=True)
class ViewerPanel:
    frame: gr.Slider
    image: gr.Image
    note: gr.Markdown
    table: gr.HTML


def build_viewer_panel() -> ViewerPanel:
    gr.Markdown("### 3 · Viewer")
    image = gr.Image(label="Current frame with the answer overlaid", type="numpy", interactive=False,
                     format="png", buttons=["download", "fullscreen"], height=420, elem_id="overlay")
    note = gr.Markdown("", elem_id="answer-note")
    frame = gr.Slider(0, 1, value=0, step=1, label="Frame", elem_id="frame")
    table = gr.HTML(trajectory_table_html([]), elem_id="trajectory-table")
    return ViewerPanel(frame, image, note, table)


def wire_viewer_panel(panel: ViewerPanel, service) -> PanelEvents:
    """Scrubbing redraws the frame; `refresh` redraws everything (frame range, image, note, table) after
    any other panel's event. Errors stay in the note under the image."""

    @shows_errors(outputs=2, status=1)
    def show_frame(index: float, request: gr.Request):
        view = service.viewer_view(session_id(request), int(index))
        return view.image, gr.skip()

    @shows_errors(outputs=4, status=2)
    def redraw(frame: float, request: gr.Request):
        view = service.viewer_view(session_id(request), int(frame))
        if view.num_frames == 0:
            return gr.Slider(maximum=1, value=0), None, "", trajectory_table_html([])
        last = max(view.num_frames - 1, 1)
        # The value is set only when it must move: a user's scrub made meanwhile is kept.
        scrubber = gr.Slider(maximum=last, value=view.index) if view.index != int(frame) else \
            gr.Slider(maximum=last)
        return scrubber, view.image, answer_note(view.answer), trajectory_table_html(list(view.rows))

    # `.input` (dragging or typing a number), not `.change`: a redraw that only moves the slider's
    # maximum must not render the same frame twice at once.
    panel.frame.input(show_frame, [panel.frame], [panel.image, panel.note], trigger_mode="always_last",
                      show_progress="hidden", **PRIVATE)

    def refresh(event, kind: str):
        return event.success(redraw, [panel.frame], [panel.frame, panel.image, panel.note, panel.table],
                             show_progress="hidden", **PRIVATE)
    return PanelEvents(refresh=refresh)


def answer_note(answer: AnswerSummary | None) -> str:
    """Markdown beside the overlay: the answer in a line, then what the model ignored."""
    if answer is None:
        return ""
    if answer.selected:
        shown = ", ".join(f"#{tid} ({score:.2f})" for tid, score in answer.selected[:6])
        more = f" and {len(answer.selected) - 6} more" if len(answer.selected) > 6 else ""
        count = len(answer.selected)
        lines = [f"**Answer:** {count} trajector{'y' if count == 1 else 'ies'} selected: {shown}{more}."]
    else:
        lines = [f"**Answer: nothing selected.** {html.escape(answer.empty_note, quote=False)}"]
    if answer.drawn:
        lines.append("Pixels drawn by hand are part of it (white where no trajectory covers them).")
    if answer.ignored_note:
        lines.append(f"⚠ {html.escape(answer.ignored_note, quote=False)}")
    return "  \n".join(lines)
