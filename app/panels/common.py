"""What every panel's handlers share: who is asking (session, user) and errors shown in the page."""
from __future__ import annotations

import functools
import html
import logging

import gradio as gr

from derrvos_core.errors import DeRVOSError

log = logging.getLogger("derrvos.app")

PRIVATE = {"api_visibility": "private"}
"""Page events are not part of the scripting API; only `/segment` is."""


def session_id(request: gr.Request | None) -> str:
    """Gradio's per-tab session hash (one tab = one studio session)."""
    if request is None or not getattr(request, "session_hash", None):
        return "local"
    return request.session_hash


def user_name(request: gr.Request | None) -> str | None:
    """The signed-in user when the studio runs with authentication (corrections are recorded under it)."""
    return getattr(request, "username", None) if request is not None else None


def shows_errors(handler):
    """Turn the project's errors into a message box in the page instead of a broken event.

    A DeRVOSError's message is written for the user; anything else is a bug: it is logged with its
    traceback and the page says so briefly.
    """
    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except DeRVOSError as exc:
            raise gr.Error(_sentence(str(exc)), title="Cannot do that", print_exception=False) from exc
        except Exception as exc:
            log.exception("event %s failed", handler.__name__)
            raise gr.Error(f"Something went wrong ({type(exc).__name__}: {exc}). Nothing was lost; "
                           "the server log has the details.", title="Error") from exc
    return wrapped


def _sentence(message: str) -> str:
    # gr.Error renders HTML: a file name with "<" in it must show as text.
    message = html.escape(message.strip())
    first = message.split(" ", 1)[0]
    if first.isalpha() and first.islower():  # a file name ("notes.mp4 is ...") keeps its case
        message = message[:1].upper() + message[1:]
    return message or "Invalid input."
