"""Start the studio's web server for a built page (used by launch.py and by the tests).

Sign-in throttling. Gradio (6.31) checks a password at `POST /login` on every request, as fast as they
come, and has no limit of its own (300 wrong passwords took 0.4 s). With `auth` set, `serve` adds one:
each user name and each client address (the connecting address, as the server sees it) is locked out
after `ThrottlePolicy.free_failures` failures in a row, and after each further failure for twice as long
as before (1 s, 2 s, 4 s, ... at most `max_lockout_s`). While a user name is locked out its password is not even
checked (the answer is "Incorrect credentials."), and a locked-out client is answered 429 with a
Retry-After header before Gradio sees the request. A correct sign-in clears that user name's and that
client's failures; a key with no failure for `forget_after_s` starts afresh. Memory is bounded: at most
`max_keys` user names and clients are remembered, the longest quiet forgotten first. The counters are
shared by the server's threads under one lock and live in memory (a restart forgets them).
"""
from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import JSONResponse

from app.ui import CSS

#: Characters of a user name the throttle keys on (the form accepts any length).
KEY_CHARS = 256


@dataclass(frozen=True)
class ThrottlePolicy:
    """How repeated failed sign-ins slow down (see the module docstring).

    Attributes:
        free_failures: failures in a row that start the first lockout.
        base_lockout_s: the first lockout; each further failure doubles it.
        max_lockout_s: the longest lockout.
        forget_after_s: a key with no failure for this long is forgotten (starts afresh).
        max_keys: most user names and clients remembered at once (the longest quiet go first).
    """

    free_failures: int = 5
    base_lockout_s: float = 1.0
    max_lockout_s: float = 900.0
    forget_after_s: float = 3600.0
    max_keys: int = 10_000


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Failure counts and lockouts per key (("user", name) or ("client", address)); thread-safe.
    `clock` (seconds, monotonic) is injectable for tests."""

    def __init__(self, policy: ThrottlePolicy = ThrottlePolicy(), clock: Callable[[], float] = time.monotonic):
        self.policy, self.clock = policy, clock
        self._keys: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: tuple[str, str]) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        with self._lock:
            entry = self._current(key, self.clock())
            return max(0.0, entry.locked_until - self.clock()) if entry else 0.0

    def failed(self, key: tuple[str, str]) -> float:
        """Count a failure of `key`; returns the lockout it starts (0 while failures are free)."""
        p = self.policy
        with self._lock:
            now = self.clock()
            entry = self._current(key, now) or _Failures()
            entry.count, entry.last = entry.count + 1, now
            over = entry.count - p.free_failures
            lockout = min(p.base_lockout_s * 2.0 ** over, p.max_lockout_s) if over >= 0 else 0.0
            entry.locked_until = now + lockout
            self._keys[key] = entry
            self._keys.move_to_end(key)
            while len(self._keys) > p.max_keys:
                self._keys.popitem(last=False)
            return lockout

    def succeeded(self, key: tuple[str, str]) -> None:
        """A correct sign-in: `key` starts afresh."""
        with self._lock:
            self._keys.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def _current(self, key: tuple[str, str], now: float) -> _Failures | None:
        entry = self._keys.get(key)
        if entry is not None and now - entry.last > self.policy.forget_after_s:
            del self._keys[key]
            return None
        return entry


def user_key(username: str) -> tuple[str, str]:
    return "user", str(username)[:KEY_CHARS]


def throttled_auth(accounts: tuple[tuple[str, str], ...], throttle: LoginThrottle) -> Callable[[str, str], bool]:
    """Gradio's `auth` callable: the (user, password) pairs, checked in constant time, with the user name
    throttled; a locked-out user name is refused without looking at the password."""
    known = {str(user): str(password).encode("utf-8", "surrogatepass") for user, password in accounts}

    def auth(username: str, password: str) -> bool:
        key = user_key(username)
        if throttle.retry_after(key) > 0:
            return False
        given = str(password).encode("utf-8", "surrogatepass")
        ok = secrets.compare_digest(given, known.get(username, b"\x00" + given))  # same work for no such user
        (throttle.succeeded if ok else throttle.failed)(key)
        return ok
    return auth


class LoginThrottleMiddleware:
    """ASGI middleware on `POST .../login`: a locked-out client gets 429 and Retry-After before Gradio
    runs; Gradio's answer (200 signed in, 400 wrong credentials) is counted for the client."""

    def __init__(self, app, throttle: LoginThrottle):
        self.app, self.throttle = app, throttle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or \
                not scope.get("path", "").rstrip("/").endswith("/login"):
            await self.app(scope, receive, send)
            return
        key = ("client", str((scope.get("client") or ("unknown",))[0]))
        wait = self.throttle.retry_after(key)
        if wait > 0:
            seconds = math.ceil(wait)
            await JSONResponse({"detail": f"Too many failed sign-ins: try again in {seconds} s."},
                               status_code=429, headers={"Retry-After": str(seconds)})(scope, receive, send)
            return
        status = {}

        async def watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status.get("code") == 200:
            self.throttle.succeeded(key)
        elif status.get("code") in (400, 401, 403):
            self.throttle.failed(key)


@dataclass(frozen=True)
class ServeOptions:
    """How the page is served.

    Attributes:
        host, port: where to listen (port None: Gradio picks a free one from 7860 up).
        share: ask Gradio for a public share link (launch.py refuses it without authentication).
        auth: (user, password) pairs; empty = no sign-in.
        max_upload_mb: the browser refuses larger uploads before sending them.
        block: wait until the server stops (False: return at once, for tests).
        throttle: how failed sign-ins slow down (with `auth`; see the module docstring).
    """

    host: str = "127.0.0.1"
    port: int | None = None
    share: bool = False
    auth: tuple[tuple[str, str], ...] = ()
    max_upload_mb: float = 500.0
    block: bool = True
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)


def serve(demo: gr.Blocks, service, options: ServeOptions) -> gr.Blocks:
    """Queue and launch `demo`; returns it (its `.local_url`, `.close()`) when `options.block` is False."""
    # Files the page hands out live in the data folder; shipped examples are read from the repo.
    allowed = [str(Path(service.config.data_dir).resolve()), str(Path(service.config.examples_dir).resolve())]
    auth, app_kwargs = None, {}
    if options.auth:
        throttle = LoginThrottle(options.throttle)
        auth = throttled_auth(tuple(options.auth), throttle)
        app_kwargs = {"middleware": [Middleware(LoginThrottleMiddleware, throttle=throttle)]}
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(server_name=options.host, server_port=options.port, share=options.share,
                auth=auth, auth_message="DeRVOS Studio: sign in to annotate.",
                max_file_size=int(options.max_upload_mb * 2 ** 20), allowed_paths=allowed, css=CSS,
                prevent_thread_lock=not options.block, show_error=True, quiet=not options.block,
                ssr_mode=False, app_kwargs=app_kwargs)
    return demo
