"""Panel 2, Model, expression and settings: the model picker (the sliders jump to the picked model's
recommended crop size and threshold), the expression, crop size, threshold, Run (with progress), Cancel."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.models import ModelShelf
from app.panels.common import PRIVATE, PanelEvents, error_line, session_id, shows_errors, user_name
from app.panels.viewer import answer_note
from app.render import threshold_text
from derrvos_core.errors import DeRVOSError
from derrvos_core.settings import ModelDefaults
from derrvos_core.validation import MAX_CROP_SIZE

CROP_SLIDER_MAX = min(120, MAX_CROP_SIZE)
"""The slider's range; the model's own limit (derrvos_core.validation.MAX_CROP_SIZE) bounds the API's box."""
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
    save_again: gr.Button
    status: gr.Markdown
    busy: gr.Markdown


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
    crop_size = gr.Slider(1, CROP_SLIDER_MAX, value=defaults.crop_size, step=1, label="Crop size (frames per inference block)",
                          info="Changing it needs a Run; sizes already run for this expression come "
                               "from the cache.",
                          elem_id="crop-size")
    threshold = gr.Slider(0.0, 1.0, value=defaults.threshold, step=0.001, label="Confidence threshold",
                          info="Re-selects trajectories from cached scores at once: no model call. "
                               "Starts at the model's recommended value.",
                          elem_id="threshold")
    link_crops = gr.Checkbox(defaults.link_crops, label="Link trajectories across crops (beyond the paper)",
                             info="Starts at the model's recommendation.", elem_id="link-crops")
    with gr.Row():
        run = gr.Button("Run", variant="primary", elem_id="run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="cancel")
    # Run pressed again while a run goes: Gradio drops that press, so the page says why nothing happens.
    busy = gr.Markdown("", elem_id="run-busy")
    # Shown only while a finished run waits to be saved (the store refused it: a full disk, ...).
    save_again = gr.Button("Save run again", visible=False, elem_id="save-again")
    # Tall enough to hold Gradio's progress bar (it overlays the event's outputs) while a run goes.
    status = gr.Markdown("Ready: load a video, type an expression, press Run.", elem_id="run-status",
                         min_height=64)
    return SettingsPanel(model, expression, crop_size, threshold, link_crops, run, cancel, save_again, status,
                         busy)


def wire_settings_panel(panel: SettingsPanel, service, note: gr.Markdown) -> PanelEvents:
    """Run and Save run again put a run on screen (`ran`), the threshold re-selects (`answer_changed`),
    the picker switches the model (`picked`). `refresh` shows the tab's model after a video is loaded
    (an example is for one model), a reloaded run's settings, and whether a run waits to be saved.
    Errors stay in the status line under Run; the viewer's answer `note` changes with it."""
    controls = [panel.model, panel.crop_size, panel.threshold, panel.link_crops, panel.status]

    @shows_errors(outputs=5, status=4)
    def on_model(key: str, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio's idiom
        progress(0, desc="loading the model (first time only)")
        try:
            picked = service.choose_model(session_id(request), key)
        except DeRVOSError as exc:  # the picker goes back to the model the tab still runs
            gr.Warning(str(exc))
            current = service.picked(session_id(request))
            return gr.Dropdown(value=current.key), gr.skip(), gr.skip(), gr.skip(), \
                f"{error_line(str(exc))}  \n{model_status(current)}"
        return (gr.skip(), *recommended(picked.defaults), model_status(picked))

    def with_note(status: str, request: gr.Request) -> tuple:
        return status, answer_note(service.answer(session_id(request)))

    @shows_errors(outputs=2)
    def on_run(expression: str, crop_size: float, threshold: float, link_crops: bool, request: gr.Request,
               progress=gr.Progress()) -> tuple:  # noqa: B008 - Gradio's idiom
        def report(step) -> None:
            # Frames, not crops: the last crop may be short, and the bar then says how much is left.
            progress((step.frames_done, step.num_frames), desc=f"crop {step.crop_index + 1}/{step.num_crops}",
                     unit="frames")

        progress(0, desc="starting")

        outcome = service.segment(session_id(request), expression,
                                  service.settings(crop_size, threshold, link_crops, session_id(request)),
                                  user=user_name(request), progress=report)
        if outcome.cancelled:
            gr.Info("Run cancelled; nothing was stored.")
            return with_note("Run cancelled.", request)
        return with_note(run_summary(outcome), request)

    @shows_errors(outputs=2)
    def on_save(request: gr.Request) -> tuple:
        return with_note(run_summary(service.save_unsaved(session_id(request), user_name(request))), request)

    @shows_errors()
    def on_cancel(request: gr.Request):
        # Gradio drops a run still waiting in the queue (`cancels`); a running one stops after its crop.
        if service.cancel(session_id(request)):
            return "Cancelled: the run stops after the crop in progress; nothing is stored."
        # The status line keeps what it says (a run that finished before the press stays on screen).
        gr.Info("Nothing to cancel: no run of this tab is in progress.")
        return gr.skip()

    @shows_errors(outputs=2)
    def on_threshold(threshold: float, request: gr.Request) -> tuple:
        if service.run_summary(session_id(request)) is None:
            return gr.skip(), gr.skip()  # nothing to re-select yet; the next Run uses this threshold
        service.reselect(session_id(request), threshold, user=user_name(request))
        run = service.run_summary(session_id(request))
        return with_note(f"Threshold {threshold_text(run.threshold)}: {run.num_selected} of "
                         f"{run.num_trajectories} trajectories selected (from cache, no model call).",
                         request)

    @shows_errors(outputs=5, status=4)
    def from_session(shown_key: str, request: gr.Request):
        picked = service.picked(session_id(request))
        if picked.key == shown_key:
            # another video clears the run on screen, and then the last run's summary would be stale (a
            # refused upload keeps the video and its run, and their summary)
            ready = service.run_summary(session_id(request)) is None
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                    "Ready: type an expression and press Run." if ready else gr.skip())
        return (gr.Dropdown(value=picked.key), *recommended(picked.defaults),
                "This example is for another model: " + model_status(picked))

    @shows_errors(outputs=5, status=4)
    def from_run(request: gr.Request):
        run = service.run_summary(session_id(request))
        if run is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        status = f"Showing run #{run.run_id} from the history ({run.num_selected} selected)."
        return run.expression, run.crop_size, run.threshold, run.link_crops, status

    def unsaved(request: gr.Request):
        return gr.Button(visible=bool(service.unsaved_note(session_id(request))))

    run_inputs = [panel.expression, panel.crop_size, panel.threshold, panel.link_crops]
    ran = tuple(trigger(on_run, run_inputs, [panel.status, note], concurrency_limit=1,
                        concurrency_id=MODEL_QUEUE, show_progress="full", show_progress_on=[panel.status], **PRIVATE)
                for trigger in (panel.run.click, panel.expression.submit))
    def on_press(request: gr.Request) -> str:
        if service.running(session_id(request)):
            return ("⚠ A run is already in progress in this tab; this press started nothing. Wait for it, "
                    "or press Cancel and Run again.")
        return ""

    for trigger in (panel.run.click, panel.expression.submit):
        trigger(on_press, None, [panel.busy], concurrency_limit=None, trigger_mode="multiple",
                show_progress="hidden", **PRIVATE)
    for event in ran:
        event.then(lambda: "", None, [panel.busy], show_progress="hidden", **PRIVATE)
    saved = panel.save_again.click(on_save, None, [panel.status, note], **PRIVATE)
    panel.cancel.click(on_cancel, None, [panel.status], concurrency_limit=None, show_progress="hidden",
                       cancels=list(ran), **PRIVATE)

    @shows_errors()
    def on_crop_size(crop_size: float, request: gr.Request):
        run = service.run_summary(session_id(request))
        if run is None or int(crop_size) == run.crop_size:
            return gr.skip()
        return (f"Crop size {int(crop_size)}: press Run to apply it (the answer on screen is run "
                f"#{run.run_id}'s, crop size {run.crop_size}).")

    # `.input`: the user's move only (a loaded example or run sets the slider too)
    panel.crop_size.input(on_crop_size, [panel.crop_size], [panel.status], trigger_mode="always_last",
                          show_progress="hidden", **PRIVATE)
    reselected = panel.threshold.change(on_threshold, [panel.threshold], [panel.status, note],
                                        trigger_mode="always_last", show_progress="hidden", **PRIVATE)
    # `.input`: only the user's pick; a pick made by loading an example is shown by `refresh`
    picked = panel.model.input(on_model, [panel.model], controls, **PRIVATE)

    def refresh(event, kind: str):
        if kind == "video_loaded":
            event = event.success(from_session, [panel.model], controls, show_progress="hidden", **PRIVATE)
        elif kind == "reloaded":
            outputs = [panel.expression, panel.crop_size, panel.threshold, panel.link_crops, panel.status]
            event = event.success(from_run, None, outputs, show_progress="hidden", **PRIVATE)
        return event.then(unsaved, None, [panel.save_again], show_progress="hidden", **PRIVATE)
    return PanelEvents(ran=(*ran, saved), answer_changed=(reselected,), picked=(picked,), refresh=refresh)


def recommended(defaults: ModelDefaults) -> tuple:
    """Updates that put crop size, threshold and linking at a model's recommended values."""
    return (gr.Slider(value=defaults.crop_size), gr.Slider(value=defaults.threshold),
            gr.Checkbox(value=defaults.link_crops))


def model_status(picked) -> str:
    """The status line after a model is picked (`app.models.PickedModel`)."""
    d = picked.defaults
    text = (f"Model: **{picked.label}** (`{picked.version}`); crop size {d.crop_size}, threshold "
            f"{d.threshold:.2f}, crops {'linked' if d.link_crops else 'not linked'}: its recommended settings.")
    if picked.changed:
        text += " Earlier runs stay in the history."
    return text


def run_summary(outcome) -> str:
    """The status line after a run (`app.service.RunOutcome`)."""
    run = outcome.summary
    source = "from the cache (no model call)" if outcome.cached else f"in {outcome.seconds:.1f} s"
    text = (f"Run #{run.run_id} {source}: {run.num_trajectories} trajectories over {run.num_frames} frames "
            f"in crops of {run.crop_size}; {run.num_selected} selected at threshold "
            f"{threshold_text(run.threshold)}.")
    for warning in run.warnings:
        text += f"  \n⚠ {warning}"
    return text
