"""Start the studio's web server for a built page (used by launch.py and by the tests)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from app.ui import CSS


@dataclass(frozen=True)
class ServeOptions:
    """How the page is served.

    Attributes:
        host, port: where to listen (port None: Gradio picks a free one from 7860 up).
        share: ask Gradio for a public share link (launch.py refuses it without authentication).
        auth: (user, password) pairs; empty = no sign-in.
        max_upload_mb: the browser refuses larger uploads before sending them.
        block: wait until the server stops (False: return at once, for tests).
    """

    host: str = "127.0.0.1"
    port: int | None = None
    share: bool = False
    auth: tuple[tuple[str, str], ...] = ()
    max_upload_mb: float = 500.0
    block: bool = True


def serve(demo: gr.Blocks, service, options: ServeOptions) -> gr.Blocks:
    """Queue and launch `demo`; returns it (its `.local_url`, `.close()`) when `options.block` is False."""
    # Files the page hands out live in the data folder; shipped examples are read from the repo.
    allowed = [str(Path(service.config.data_dir).resolve()), str(Path(service.config.examples_dir).resolve())]
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(server_name=options.host, server_port=options.port, share=options.share,
                auth=list(options.auth) or None, auth_message="DeRVOS Studio: sign in to annotate.",
                max_file_size=int(options.max_upload_mb * 2 ** 20), allowed_paths=allowed, css=CSS,
                prevent_thread_lock=not options.block, show_error=True, quiet=not options.block,
                ssr_mode=False)
    return demo
