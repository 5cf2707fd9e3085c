"""The page: five panels and the API tab, built and wired one module each, around one `StudioService`."""
from __future__ import annotations

import gradio as gr

from app.panels.api import build_api_panel, wire_api_panel
from app.panels.common import session_id
from app.panels.correction import build_correction_panel, wire_correction_panel
from app.panels.history import build_history_panel, wire_history_panel
from app.panels.settings import build_settings_panel, model_follower, settings_follower, wire_settings_panel
from app.panels.video import build_video_panel, wire_video_panel
from app.panels.viewer import build_viewer_panel, wire_viewer_panel
from derrvos_core.store.engine import redact

CSS = """
.derrvos-table-wrap { max-height: 360px; overflow-y: auto; }
.derrvos-trajectories { border-collapse: collapse; width: 100%; font-size: 0.9em; }
.derrvos-trajectories th, .derrvos-trajectories td {
  padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left;
}
.derrvos-trajectories tr.unsel { opacity: 0.55; }
"""


def build_app(service) -> gr.Blocks:
    """The studio page for `service` (a `StudioService`). Launch it with `app.server.serve`."""
    with gr.Blocks(title="DeRVOS Studio", analytics_enabled=False) as demo:
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

        loaded = wire_video_panel(video, service)
        settings_events = wire_settings_panel(settings, service)
        redraw_viewer = wire_viewer_panel(viewer, service)
        corrected, redraw_correction = wire_correction_panel(correction, service, viewer.frame)
        reloaded, redraw_history = wire_history_panel(history, service)
        follow_run = settings_follower(settings, service)
        follow_model = model_follower(settings, service)
        wire_api_panel(api, service)

        # After anything that changes what is on screen, the panels that show it redraw themselves.
        for event in loaded + settings_events["ran"] + reloaded + settings_events["picked"]:
            redraw_correction(redraw_viewer(event))
            redraw_history(event)
        for event in loaded:
            follow_model(event)
        for event in settings_events["reselected"] + corrected:
            redraw_correction(redraw_viewer(event))
            redraw_history(event)  # the threshold in force and the correction counts
        for event in reloaded:
            follow_run(event)

        def forget(request: gr.Request) -> None:
            service.close_session(session_id(request))
        demo.unload(forget)
    return demo


def _store_name(service) -> str:
    return redact(service.store.url)  # a PostgreSQL URL may carry a password
