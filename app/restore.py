"""Reloading the page keeps the work on screen: the browser holds a restore token (the video and run the
tab shows, and whose they are) in an encrypted `gr.BrowserState`; on `demo.load` the studio reopens them
from the store, corrections included, for the same signed-in user only."""
from __future__ import annotations

import logging
import secrets
from dataclasses import asdict, dataclass

import gradio as gr

from app.panels.common import PRIVATE, KINDS, PanelEvents, session_id, user_name
from app.panels.video import describe
from derrvos_core.errors import DeRVOSError

log = logging.getLogger("derrvos.app")

RESTORE_KEY = "derrvos-studio-restore"
"""The browser's local-storage key of the token."""


@dataclass(frozen=True)
class RestoreToken:
    """What a reloaded page reopens.

    Attributes:
        video_id: the store's video on screen; name: what the page called it (its uploaded file name).
        run_id: the run on screen (None: the video only); user: who was signed in (None: no sign-in).
        undo: the tab's corrections on the run that its Undo takes back, newest last (a reload keeps them).
    """

    video_id: int
    name: str
    run_id: int | None
    user: str | None
    undo: tuple[int, ...] = ()


def restore_token(service, session_id_: str, user: str | None) -> dict | None:
    """The token of what the session shows now, as the browser stores it (None: no video)."""
    session = service.session(session_id_)
    if session.video is None:
        return None
    run_id = None if session.run is None else session.run.run_id
    return asdict(RestoreToken(session.video.record.id, session.video.name, run_id, user,
                               tuple(session.undo_stack)))


def restore_page(service, session_id_: str, stored: dict | None, user: str | None) -> str | None:
    """Reopen the token's video and run in the session; the video line's Markdown, or None when there
    is nothing to restore (no token, another user's, or the store no longer has them)."""
    try:
        token = RestoreToken(**stored) if isinstance(stored, dict) else None
    except TypeError:
        token = None
    if token is None or token.user != user:
        return None
    try:
        record = service.store.get_video(int(token.video_id))
        video = service.open_video(session_id_, record.path, name=token.name, file_name=token.name)
        if token.run_id is not None:
            service.reload_run(session_id_, int(token.run_id), user)
            service.resume_undo(session_id_, token.undo)
    except DeRVOSError as exc:  # deleted since, or the file went: the page opens empty
        log.info("page not restored: %s", exc)
        return None
    return describe(video)


def wire_restore(demo: gr.Blocks, panels: tuple[PanelEvents, ...], service, video_info: gr.Markdown
                 ) -> PanelEvents:
    """Keep the token current after every event that changes the video or run, and restore on load.
    Returns the load as a `reloaded` event, so that every panel redraws after it."""
    state = gr.BrowserState(None, storage_key=RESTORE_KEY, secret=secrets.token_hex(16))

    def save(request: gr.Request):
        return restore_token(service, session_id(request), user_name(request))

    for panel in panels:
        for kind in KINDS:
            for event in panel.events(kind):
                event.success(save, None, [state], show_progress="hidden", **PRIVATE)

    def on_load(stored, request: gr.Request):
        line = restore_page(service, session_id(request), stored, user_name(request))
        return gr.skip() if line is None else line

    loaded = demo.load(on_load, [state], [video_info], show_progress="hidden", **PRIVATE)
    return PanelEvents(reloaded=(loaded,))
