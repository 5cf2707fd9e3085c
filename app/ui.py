"""The page: five panels and the API tab, built and wired one module each, around one `StudioService`.

Each panel's `wire_*` returns `PanelEvents`: after every event that changes what is on screen, each
panel's `refresh` chains its redraw, in page order (the correction panel reads the frame the viewer
settled on)."""
from __future__ import annotations

import gradio as gr

from app.panels.api import build_api_panel, wire_api_panel
from app.panels.common import KINDS, PanelEvents, session_id
from app.panels.correction import build_correction_panel, wire_correction_panel
from app.panels.history import build_history_panel, wire_history_panel
from app.panels.settings import build_settings_panel, wire_settings_panel
from app.panels.video import build_video_panel, wire_video_panel
from app.panels.viewer import KEYBOARD_JS, build_viewer_panel, wire_viewer_panel
from app.picking import Picker
from app.restore import wire_restore
from derrvos_core.store.engine import redact

CSS = """
.derrvos-table-wrap { max-height: 360px; overflow-y: auto; }
.derrvos-trajectories { border-collapse: collapse; width: 100%; font-size: 0.9em; }
.derrvos-trajectories th, .derrvos-trajectories td {
  padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left;
}
.derrvos-trajectories tr.unsel { opacity: 0.55; }
/* one Undo on the page ("Undo last correction", stored); the editor's own would only undo strokes */
#editor button[aria-label="Undo"], #editor button[aria-label="Redo"],
#editor button[aria-label="undo"], #editor button[aria-label="redo"] { display: none; }
/* while a run goes, the bar alone: not the "Ready" or last summary it overlays */
#run-status [data-testid="markdown-wrapper"].pending { visibility: hidden; }
"""


def build_app(service) -> gr.Blocks:
    """The studio page for `service` (a `StudioService`). Launch it with `app.server.serve`.

    Gradio's temporary copies of uploads and downloads are deleted after `config.upload_keep_s`
    (checked every `config.upload_sweep_s`) and when the server stops; the studio reads its own copies.
    """
    config = service.config
    with gr.Blocks(title="DeRVOS Studio", analytics_enabled=False,
                   delete_cache=(config.upload_sweep_s, config.upload_keep_s)) as demo:
        gr.Markdown(f"## DeRVOS Studio\nReferring video object segmentation · store `{_store_name(service)}`")
        with gr.Tab("Annotate"):
            with gr.Row():
                with gr.Column(scale=1, min_width=320):
                    video = build_video_panel(service)
                    settings = build_settings_panel(service.defaults, service.models)
                with gr.Column(scale=2, min_width=360):
                    viewer = build_viewer_panel()
                with gr.Column(scale=2, min_width=360):
                    correction = build_correction_panel()
            history = build_history_panel()
        with gr.Tab("Script API"):
            api = build_api_panel(service.defaults, service.model_version)

        # page order: the viewer settles the frame before the correction panel reads it
        panels = (wire_video_panel(video, service), wire_settings_panel(settings, service, viewer.note),
                  wire_viewer_panel(viewer, Picker(service.sessions, service.editor, service.views)),
                  wire_correction_panel(correction, service, viewer.frame),
                  wire_history_panel(history, service), wire_api_panel(api, service))
        panels = (wire_restore(demo, panels, service, video.info), *panels)  # a reload reopens the work
        wire_refreshes(panels)

        def forget(request: gr.Request) -> None:
            service.close_session(session_id(request))
        demo.unload(forget)
        demo.load(None, js=KEYBOARD_JS)  # the viewer's keyboard stepping
    return demo


def wire_refreshes(panels: tuple[PanelEvents, ...]) -> None:
    """After each panel's events of each kind, every panel's redraw, one after the other."""
    for source in panels:
        for kind in KINDS:
            for event in source.events(kind):
                after = event
                for target in panels:
                    if target.refresh is not None:
                        after = target.refresh(after, kind) or after


def _store_name(service) -> str:
    return redact(service.store.url)  # a PostgreSQL URL may carry a password
