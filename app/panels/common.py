"""What every panel shares: who is asking (session, user), how a handler's errors show in the page, and
the one shape a panel's `wire_*` returns (`PanelEvents`)."""
from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from derrvos_core.errors import DeRVOSError

log = logging.getLogger("derrvos.app")

PRIVATE = {"api_visibility": "private"}
"""Page events are not part of the scripting API; only `/segment` is."""

KINDS = ("video_loaded", "picked", "ran", "reloaded", "answer_changed")
"""What an event may have changed, in the order `PanelEvents` lists them."""


@dataclass(frozen=True)
class PanelEvents:
    """What a panel's `wire_*` returns: its events that change what other panels show, and its redraw.

    Attributes:
        video_loaded: another video is on screen (upload, example).
        picked: the tab runs another model (its run was put away).
        ran: a new run is on screen (Run, Save run again).
        reloaded: an earlier run is on screen (the history's Reload).
        answer_changed: the answer on screen changed (a correction, a new threshold).
        refresh: `refresh(event, kind)` chains this panel's redraw after `event` of one of `KINDS` and
            returns the redraw event (None when the panel shows nothing that `kind` changes). The page
            chains the panels in page order, so a redraw sees the frame the viewer settled on.
    """

    video_loaded: tuple = ()
    picked: tuple = ()
    ran: tuple = ()
    reloaded: tuple = ()
    answer_changed: tuple = ()
    refresh: Callable | None = None

    def events(self, kind: str) -> tuple:
        return getattr(self, kind)


def session_id(request: gr.Request | None) -> str:
    """Gradio's per-tab session hash (one tab = one studio session)."""
    if request is None or not getattr(request, "session_hash", None):
        return "local"
    return request.session_hash


def user_name(request: gr.Request | None) -> str | None:
    """The signed-in user when the studio runs with authentication (corrections are recorded under it)."""
    return getattr(request, "username", None) if request is not None else None


def error_line(message: str) -> str:
    """Markdown for a status line that keeps showing the last error (the toast fades)."""
    return f"⚠ **Not done:** {page_text(message)}"


def shows_errors(outputs: int = 1, status: int | None = 0):
    """Decorate a page handler with `outputs` outputs so that an error stays in the page.

    A DeRVOSError's message is written for the user: it goes to the output at index `status` (the
    panel's status line) and a toast; the other outputs are left as they were. `status` None: the
    handler has no status line, the toast alone says it. Anything else is a bug: it is logged with its
    traceback and said briefly the same way.
    """
    def decorate(handler):
        @functools.wraps(handler)
        def wrapped(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:  # noqa: BLE001 - every error is said in the page
                message = said(handler, exc)
            if status is None:
                raise gr.Error(page_text(message), title="Cannot do that", print_exception=False)
            gr.Warning(page_text(message), title="Cannot do that")
            values = [gr.skip()] * outputs
            values[status] = error_line(message)
            return values[0] if outputs == 1 else tuple(values)
        return wrapped
    return decorate


def api_errors(handler):
    """For `/segment`: errors raise `gr.Error` with the plain sentence (a script gets the text as written,
    not HTML); anything else is logged with its traceback."""
    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - every error reaches the script as a sentence
            title = "Cannot do that" if isinstance(exc, DeRVOSError) else "Error"
            raise gr.Error(said(handler, exc), title=title, print_exception=False) from exc
    return wrapped


def said(handler, exc: Exception) -> str:
    """What the person is told of `exc`: a DeRVOSError's own message (written for them); anything else is
    a bug, logged with its traceback and said briefly."""
    if isinstance(exc, DeRVOSError):
        return sentence(str(exc))
    log.exception("event %s failed", handler.__name__, exc_info=exc)
    return (f"Something went wrong ({type(exc).__name__}: {exc}). Nothing was lost; the server log has "
            "the details.")


def sentence(message: str) -> str:
    """A message as a sentence for a person: plain text, first letter up unless it starts with a file
    name ("notes.mp4 is ...")."""
    message = message.strip()
    first = message.split(" ", 1)[0]
    if first.isalpha() and first.islower():
        message = message[:1].upper() + message[1:]
    return message or "Invalid input."


def page_text(message: str) -> str:
    """Text for Markdown and toasts, which render HTML: a file name with "<" in it shows as text."""
    return html.escape(message, quote=False)
