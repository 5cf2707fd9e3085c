"""Panel 5, History and export: earlier runs of this video (reload one), the corrected answers as a
dataset zip (MeViS, Ref-YouTube-VOS, DAVIS, COCO-RLE), and an MP4 of the overlay."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.config import EXPORT_CHOICES, format_title
from app.panels.common import PRIVATE, PanelEvents, session_id, shows_errors, user_name
from derrvos_core.errors import InputError

HEADERS = ["run", "expression", "crop", "thr.", "model", "created (UTC)", "fixes", "shown"]


@dataclass(frozen=True)
class HistoryPanel:
    runs: gr.Dataframe
    run_choice: gr.Dropdown
    reload: gr.Button
    export_format: gr.Radio
    all_videos: gr.Checkbox
    export: gr.Button
    export_file: gr.File
    render_overlay: gr.Button
    overlay_video: gr.Video
    status: gr.Markdown


def build_history_panel() -> HistoryPanel:
    gr.Markdown("### 5 · History and export")
    with gr.Row():
        with gr.Column(scale=3):
            runs = gr.Dataframe(headers=HEADERS, value=[], interactive=False, wrap=True,
                                column_widths=["6%", "30%", "7%", "7%", "20%", "16%", "7%", "7%"],
                                label="Runs of this video (newest first)", elem_id="history")
            with gr.Row(equal_height=True):
                run_choice = gr.Dropdown(choices=[], label="Run", scale=3, elem_id="run-choice")
                reload = gr.Button("Reload run", scale=1, elem_id="reload-run")
        with gr.Column(scale=2):
            export_format = gr.Radio(list(EXPORT_CHOICES), value=EXPORT_CHOICES[0][1],
                                     label="Export format", elem_id="export-format")
            all_videos = gr.Checkbox(False, label="All videos in the store (not only this one)")
            export = gr.Button("Export corrected masks (zip)", elem_id="export")
            export_file = gr.File(label="Dataset zip", interactive=False, elem_id="export-file")
            render_overlay = gr.Button("Render overlay MP4", elem_id="render-overlay")
            overlay_video = gr.Video(label="Overlay", interactive=False, elem_id="overlay-video")
    status = gr.Markdown("", elem_id="history-status")
    return HistoryPanel(runs, run_choice, reload, export_format, all_videos, export, export_file,
                        render_overlay, overlay_video, status)


def wire_history_panel(panel: HistoryPanel, service) -> PanelEvents:
    """Reload puts an earlier run on screen (`reloaded`); `refresh` redraws the run list after any event
    (the threshold in force and correction counts change with corrections), and after another video
    clears the previous one's export zip, overlay MP4 and status line. Errors stay in the status
    line under the panel."""

    @shows_errors(outputs=3, status=2)
    def redraw(request: gr.Request):
        rows = service.history(session_id(request))
        table = [[h.run.id, h.run.expression, h.run.crop_size, f"{h.threshold:.2f}",
                  f"{h.run.model_version} ({h.run.device})",
                  h.run.created_at.strftime("%Y-%m-%d %H:%M:%S") if h.run.created_at else "",
                  h.num_corrections, "●" if h.on_screen else ""] for h in rows]
        choices = [(f"#{h.run.id} · “{h.run.expression}” · crop {h.run.crop_size}", h.run.id)
                   for h in rows]
        shown = next((h.run.id for h in rows if h.on_screen), choices[0][1] if choices else None)
        return table, gr.Dropdown(choices=choices, value=shown), gr.skip()

    @shows_errors()
    def on_reload(run_id, request: gr.Request) -> str:
        if run_id is None:
            raise InputError("pick a run first")
        _, record = service.reload_run(session_id(request), int(run_id), user_name(request))
        run = service.run_summary(session_id(request))
        return (f"Reloaded run #{record.id} (“{record.expression}”, crop {record.crop_size}, model "
                f"{record.model_version}); threshold {run.threshold:.2f}; fixes in force: {run.num_fixes}.")

    @shows_errors(outputs=2, status=1)
    def on_export(fmt: str, all_videos: bool, request: gr.Request):
        path = service.export_zip(session_id(request), fmt, all_videos=all_videos)
        return str(path), f"Exported {format_title(fmt)} dataset: `{path.name}`."

    @shows_errors(outputs=2, status=1)
    def on_overlay(request: gr.Request):
        path = service.overlay_video(session_id(request))
        return str(path), f"Overlay video written: `{path.name}`."

    reloaded = panel.reload.click(on_reload, [panel.run_choice], [panel.status], **PRIVATE)
    panel.export.click(on_export, [panel.export_format, panel.all_videos], [panel.export_file, panel.status],
                       **PRIVATE)
    panel.render_overlay.click(on_overlay, None, [panel.overlay_video, panel.status], **PRIVATE)

    @shows_errors(outputs=3, status=2)
    def clear(request: gr.Request):
        return None, None, ""

    def refresh(event, kind: str):
        if kind == "video_loaded":  # the previous video's zip, MP4 and status line go with it
            event = event.success(clear, None, [panel.export_file, panel.overlay_video, panel.status],
                                  show_progress="hidden", **PRIVATE)
        return event.success(redraw, None, [panel.runs, panel.run_choice, panel.status],
                             show_progress="hidden", **PRIVATE)
    return PanelEvents(reloaded=(reloaded,), refresh=refresh)
