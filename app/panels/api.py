"""The scripting API, also usable from its own tab: `/segment` (video, expression, crop_size, threshold)
-> (overlay MP4, zip of PNG masks, per-trajectory scores JSON). Every call is stored as a run."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from app.examples import VIDEO_SUFFIXES
from app.panels.common import PanelEvents, api_errors, user_name
from app.panels.settings import MODEL_QUEUE
from derrvos_core.errors import InputError
from derrvos_core.settings import ModelDefaults
from derrvos_core.validation import MAX_CROP_SIZE


@dataclass(frozen=True)
class ApiPanel:
    video: gr.File
    expression: gr.Textbox
    crop_size: gr.Number
    threshold: gr.Number
    run: gr.Button
    overlay: gr.Video
    masks: gr.File
    scores: gr.JSON


def build_api_panel(defaults: ModelDefaults, model_version: str) -> ApiPanel:
    gr.Markdown("One call does it all: the same as `gradio_client.Client(url).predict(handle_file(video), "
                "expression, crop_size, threshold, api_name=\"/segment\")`. It runs the model the studio "
                f"opened on (`{model_version}`); the run is stored like any other.")
    with gr.Row():
        with gr.Column():
            video = gr.File(label="Video", type="filepath", file_types=["video", *VIDEO_SUFFIXES])
            expression = gr.Textbox(label="Expression")
            crop_size = gr.Number(defaults.crop_size, label="Crop size", precision=0, minimum=1,
                                  maximum=MAX_CROP_SIZE)
            threshold = gr.Number(defaults.threshold, label="Threshold", minimum=0, maximum=1)
            run = gr.Button("Segment", variant="primary")
        with gr.Column():
            overlay = gr.Video(label="Overlay", interactive=False)
            masks = gr.File(label="PNG masks (zip)", interactive=False)
            scores = gr.JSON(label="Per-trajectory scores")
    return ApiPanel(video, expression, crop_size, threshold, run, overlay, masks, scores)


def wire_api_panel(panel: ApiPanel, service) -> PanelEvents:
    """`/segment`, the studio's one public endpoint: errors reach a script as plain text."""

    @api_errors
    def segment(video: str | None, expression: str, crop_size: float, threshold: float, request: gr.Request):
        if not video:
            raise InputError("give a video file")
        out = service.api_segment(video, expression, crop_size, threshold,
                                  user=user_name(request), name=Path(video).name)
        return str(out.overlay_video), str(out.masks_zip), out.scores

    panel.run.click(segment, [panel.video, panel.expression, panel.crop_size, panel.threshold],
                    [panel.overlay, panel.masks, panel.scores], api_name="segment",
                    concurrency_limit=1, concurrency_id=MODEL_QUEUE)
    return PanelEvents()
