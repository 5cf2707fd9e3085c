"""Panel 2, Model, expression and settings: the model picker (the sliders jump to the picked model's
recommended crop size and threshold), the expression, crop size, threshold, Run (with progress), Cancel."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.models import ModelShelf
from app.panels.common import PRIVATE, session_id, shows_errors, user_name
from derrvos_core.errors import DeRVOSError
from derrvos_core.settings import ModelDefaults

MODEL_QUEUE = "model"
"""One model run at a time over all tabs and the API: later ones wait in Gradio's queue (the page
shows their place in it), and the service's lock refuses anything that slips past."""


@dataclass(frozen=True)
class SettingsPanel:
    model: gr.Dropdown
    expression: gr.Textbox
    crop_size: gr.Slider
    threshold: gr.Slider
    link_crops: gr.Checkbox
    run: gr.Button
    cancel: gr.Button
    status: gr.Markdown


def build_settings_panel(defaults: ModelDefaults, models: ModelShelf) -> SettingsPanel:
    """The panel, its picker on the shelf's first model and its sliders at that model's recommended crop
    size and threshold (`defaults`)."""
    gr.Markdown("### 2 · Model, expression and settings")
    model = gr.Dropdown(choices=[(c.label, c.key) for c in models.choices], value=models.first_key,
                        label="Model", info="Real videos: a COCO detector and tracker with an English "
                        "expression reader. SynthRef shapes: the tiny DeRVOS trained on SynthRef.",
                        interactive=len(models.choices) > 1, elem_id="model-choice")
    expression = gr.Textbox(label="Expression", placeholder="e.g. the red circle moving to the left",
                            lines=1, max_lines=3, elem_id="expression")
    crop_size = gr.Slider(1, 120, value=defaults.crop_size, step=1, label="Crop size (frames per inference block)",
                          info="Changing it needs a Run; sizes already run for this expression come "
                               "from the cache.",
                          elem_id="crop-size")
    threshold = gr.Slider(0.0, 1.0, value=defaults.threshold, step=0.01, label="Confidence threshold",
                          info="Re-selects trajectories from cached scores at once: no model call. "
                               "Starts at the model's recommended value.",
                          elem_id="threshold")
    link_crops = gr.Checkbox(defaults.link_crops, label="Link trajectories across crops (beyond the paper)",
                             info="Starts at the model's recommendation.", elem_id="link-crops")
    with gr.Row():
        run = gr.Button("Run", variant="primary", elem_id="run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="cancel")
    # Tall enough to hold Gradio's progress bar (it overlays the event's outputs) while a run goes.
    status = gr.Markdown("Ready: load a video, type an expression, press Run.", elem_id="run-status",
                         min_height=64)
    return SettingsPanel(model, expression, crop_size, threshold, link_crops, run, cancel, status)


def wire_settings_panel(panel: SettingsPanel, service) -> dict[str, list]:
    """Returns {"ran": events after which a run is on screen, "reselected": threshold events}."""

    @shows_errors
    def on_model(key: str, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio's idiom
        progress(0, desc="loading the model (first time only)")
        try:
            picked = service.choose_model(session_id(request), key)
        except DeRVOSError as exc:  # the picker goes back to the model the tab still runs
            gr.Warning(str(exc))
            current = service.picked(session_id(request))
            return gr.Dropdown(value=current.key), gr.skip(), gr.skip(), gr.skip(), model_status(current)
        return (gr.skip(), *recommended(picked.defaults), model_status(picked))

    @shows_errors
    def on_run(expression: str, crop_size: float, threshold: float, link_crops: bool, request: gr.Request,
               progress=gr.Progress()) -> str:  # noqa: B008 - Gradio's idiom
        def report(step) -> None:
            progress((step.crop_index + 1, step.num_crops),
                     desc=f"crop {step.crop_index + 1}/{step.num_crops} · "
                          f"{step.frames_done}/{step.num_frames} frames", unit="crops")

        outcome = service.segment(session_id(request), expression,
                                  service.settings(crop_size, threshold, link_crops, session_id(request)),
                                  user=user_name(request), progress=report)
        if outcome.cancelled:
            gr.Info("Run cancelled; nothing was stored.")
            return "Run cancelled."
        return run_summary(outcome)

    @shows_errors
    def on_cancel(request: gr.Request) -> str:
        # Gradio drops a run still waiting in the queue (`cancels`); a running one stops after its crop.
        if service.cancel(session_id(request)):
            return "Cancelled: the run stops after the crop in progress; nothing is stored."
        return "No run was in progress; a run still waiting in the queue was dropped."

    @shows_errors
    def on_threshold(threshold: float, request: gr.Request) -> str:
        session = service.session(session_id(request))
        if session.run is None:
            return gr.skip()  # nothing to re-select yet; the next Run uses this threshold
        run = service.reselect(session.session_id, threshold, user=user_name(request))
        return f"Threshold {run.threshold:.2f}: {len(run.plan.selected)} of {len(run.result.trajectories)} " \
               f"trajectories selected (from cache, no model call)."

    run_inputs = [panel.expression, panel.crop_size, panel.threshold, panel.link_crops]
    ran = [trigger(on_run, run_inputs, [panel.status], concurrency_limit=1, concurrency_id=MODEL_QUEUE,
                   show_progress="full", **PRIVATE)
           for trigger in (panel.run.click, panel.expression.submit)]
    panel.cancel.click(on_cancel, None, [panel.status], concurrency_limit=None, show_progress="hidden",
                       cancels=ran, **PRIVATE)
    reselected = panel.threshold.change(on_threshold, [panel.threshold], [panel.status],
                                        trigger_mode="always_last", show_progress="hidden", **PRIVATE)
    # `.input`: only the user's pick; a pick made by loading an example is shown by `model_follower`
    picked = panel.model.input(on_model, [panel.model],
                               [panel.model, panel.crop_size, panel.threshold, panel.link_crops, panel.status],
                               **PRIVATE)
    return {"ran": ran, "reselected": [reselected], "picked": [picked]}


def recommended(defaults: ModelDefaults) -> tuple:
    """Updates that put crop size, threshold and linking at a model's recommended values."""
    return (gr.Slider(value=defaults.crop_size), gr.Slider(value=defaults.threshold),
            gr.Checkbox(value=defaults.link_crops))


def model_status(picked) -> str:
    """The status line after a model is picked (`StudioService.PickedModel`)."""
    d = picked.defaults
    text = (f"Model: **{picked.label}** (`{picked.version}`); crop size {d.crop_size}, threshold "
            f"{d.threshold:.2f}, crops {'linked' if d.link_crops else 'not linked'}: its recommended settings.")
    if picked.changed:
        text += " Earlier runs stay in the history."
    return text


def run_summary(outcome) -> str:
    run = outcome.run
    result = run.result
    source = "from the cache (no model call)" if outcome.cached else f"in {outcome.seconds:.1f} s"
    text = (f"Run #{run.run_id} {source}: {len(result.trajectories)} trajectories over "
            f"{result.num_frames} frames in crops of {result.crop_size}; {len(run.plan.selected)} selected "
            f"at threshold {run.threshold:.2f}.")
    for warning in result.warnings:
        text += f"  \n⚠ {warning}"
    return text


def model_follower(panel: SettingsPanel, service):
    """`follow(event)`: after a video is loaded, show the tab's model when loading it switched the model
    (an example is for one model), with the sliders at that model's recommended settings."""

    @shows_errors
    def from_session(shown_key: str, request: gr.Request):
        picked = service.picked(session_id(request))
        if picked.key == shown_key:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return (gr.Dropdown(value=picked.key), *recommended(picked.defaults),
                "This example is for another model: " + model_status(picked))

    def follow(event):
        outputs = [panel.model, panel.crop_size, panel.threshold, panel.link_crops, panel.status]
        return event.success(from_session, [panel.model], outputs, show_progress="hidden", **PRIVATE)
    return follow


def settings_follower(panel: SettingsPanel, service):
    """`follow(event)`: after a run is reloaded from the history, show its expression and settings."""

    @shows_errors
    def from_run(request: gr.Request):
        run = service.session(session_id(request)).run
        if run is None or run.key is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        status = f"Showing run #{run.run_id} from the history ({len(run.plan.selected)} selected)."
        return run.key.expression, run.key.crop_size, run.threshold, run.key.link_crops, status

    def follow(event):
        outputs = [panel.expression, panel.crop_size, panel.threshold, panel.link_crops, panel.status]
        return event.success(from_run, None, outputs, show_progress="hidden", **PRIVATE)
    return follow
