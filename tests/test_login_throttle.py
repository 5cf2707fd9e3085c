"""Sign-in throttling (app/server.py): lockouts that double per failure past the free ones, per user name
and per client, cleared by a correct sign-in, forgotten after a quiet while, bounded in memory and
thread-safe; and on a real Gradio server, password guessing is answered 429 after the free failures."""
from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import gradio as gr
import httpx
import pytest

from app.server import LoginThrottle, ServeOptions, ThrottlePolicy, serve, throttled_auth, user_key


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


POLICY = ThrottlePolicy(free_failures=3, base_lockout_s=1.0, max_lockout_s=8.0, forget_after_s=100.0,
                        max_keys=50)


def test_lockouts_double_past_the_free_failures_up_to_the_cap():
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock)
    key = user_key("ana")
    assert [throttle.failed(key) for _ in range(2)] == [0.0, 0.0]
    assert throttle.retry_after(key) == 0.0
    assert [throttle.failed(key) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert throttle.retry_after(key) == 8.0
    clock.now += 5
    assert throttle.retry_after(key) == 3.0
    clock.now += 3
    assert throttle.retry_after(key) == 0.0
    assert throttle.retry_after(user_key("bea")) == 0.0  # other names are not slowed


def test_success_clears_and_quiet_keys_are_forgotten():
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock)
    for _ in range(4):
        throttle.failed(("client", "10.0.0.1"))
    throttle.succeeded(("client", "10.0.0.1"))
    assert throttle.retry_after(("client", "10.0.0.1")) == 0.0 and len(throttle) == 0
    for _ in range(4):
        throttle.failed(("client", "10.0.0.2"))
    clock.now += 101
    assert throttle.retry_after(("client", "10.0.0.2")) == 0.0
    assert throttle.failed(("client", "10.0.0.2")) == 0.0  # starts afresh


def test_memory_is_bounded_by_max_keys():
    throttle = LoginThrottle(POLICY, Clock())
    for i in range(1000):
        throttle.failed(user_key(f"guess-{i}" + "x" * 10_000))
    assert len(throttle) == POLICY.max_keys
    assert user_key("y" * 10_000)[1] == "y" * 256


def test_counts_are_exact_under_threads():
    throttle = LoginThrottle(ThrottlePolicy(free_failures=10_000, max_keys=10), Clock())
    key = user_key("ana")

    def guess():
        for _ in range(500):
            throttle.failed(key)
    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert throttle._keys[key].count == 4000


def test_a_locked_out_user_is_refused_even_with_the_right_password():
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock)
    auth = throttled_auth((("ana", "s3cret"), ("bea", "other")), throttle)
    assert auth("ana", "s3cret") and not auth("ana", "S3CRET") and not auth("nobody", "s3cret")
    for _ in range(2):
        assert not auth("ana", "wrong")  # the third failure in a row
    assert not auth("ana", "s3cret")  # locked out: the password is not looked at
    assert auth("bea", "other")
    clock.now += 1.0
    assert auth("ana", "s3cret")  # the lockout is over, and the failures are cleared
    assert throttle.retry_after(user_key("ana")) == 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    service = SimpleNamespace(config=SimpleNamespace(data_dir=tmp_path, examples_dir=tmp_path))
    with gr.Blocks() as demo:
        gr.Markdown("signed in")
    policy = ThrottlePolicy(free_failures=5, base_lockout_s=60.0)
    demo = serve(demo, service, ServeOptions(port=free_port(), block=False, auth=(("ana", "s3cret"),),
                                             throttle=policy))
    yield demo.local_url.rstrip("/")
    demo.close()


def test_password_guessing_on_the_server_is_answered_429(server):
    with httpx.Client(timeout=10) as client:
        assert client.post(f"{server}/login", data={"username": "ana", "password": "s3cret"}).status_code == 200
        codes = [client.post(f"{server}/login", data={"username": f"u{i}", "password": "guess"}).status_code
                 for i in range(300)]  # the README's figure: 300 guesses, 5 checked, 295 refused
        assert codes[:5] == [400] * 5 and set(codes[5:]) == {429} and codes.count(429) == 295
        refused = client.post(f"{server}/login", data={"username": "ana", "password": "s3cret"})
        assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
        assert "Too many failed sign-ins" in refused.json()["detail"]
