"""Take the README's screenshot of the studio: start it on a throwaway database, drive Debian's chromium
through load example -> type expression -> Run -> scrub, and save the page.

    python -m app.make_screenshot [--checkpoint default] [--example real-vtest-street-b]
                                  [--expression "the woman in the red jacket"] [--frame 30]
                                  [--out docs/screenshot.png]

By default: the real-video model answering a real clip (a RealRef cut: run
`python training/realref_setup.py` first). Re-run it whenever the shipped model changes: the page shows
the model's real answer.
"""
from __future__ import annotations

import argparse
import socket
import tempfile
from pathlib import Path

from app.config import REPO_ROOT, StudioConfig

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000


def start_studio(checkpoint: str, workdir: Path):
    """A studio on a free localhost port over a fresh SQLite database, with the picker `launch.py` has;
    returns (service, demo)."""
    from app.models import ModelShelf, shipped_choices
    from app.server import ServeOptions, serve
    from app.service import StudioService
    from app.ui import build_app
    from derrvos_core.model.catalog import load_model
    from derrvos_core.store import Store

    store = Store(f"sqlite:///{workdir / 'screenshot.db'}", use_env=False)
    store.upgrade()
    key = "real" if checkpoint == "default" else checkpoint
    model = load_model(key)
    models = ModelShelf(model, key, shipped_choices(key), load=load_model)
    service = StudioService(model, store, StudioConfig(data_dir=workdir / "data"), models)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return service, serve(build_app(service), service, ServeOptions(port=port, block=False))


def capture(url: str, example_title: str, expression: str, frame: int, threshold: float | None,
            out: Path) -> None:
    from playwright.sync_api import sync_playwright

    def shows(page, selector: str, text: str) -> None:
        page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                               arg=[selector, text], timeout=TIMEOUT_MS)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1250})
            page.goto(url)
            page.locator("#example-choice input").click()
            page.get_by_role("option", name=example_title).click()
            page.click("#load-example")
            shows(page, "#video-info", "frames")
            page.fill("#expression textarea", expression)
            page.click("#run")
            shows(page, "#run-status", "Run #")
            shows(page, "#answer-note", "Answer")
            if threshold is not None:
                box = page.locator("#threshold input[type=number]")
                box.fill(f"{threshold:g}")
                box.press("Enter")
                shows(page, "#run-status", "Threshold")
            scrubber = page.locator("#frame input[type=number]")
            scrubber.fill(str(frame))
            scrubber.press("Enter")
            shows(page, "#correction-frame", f"frame {frame}")
            page.wait_for_timeout(2000)  # the editor is the last to redraw
            page.evaluate("window.scrollTo(0, 0)")  # typing in the scrubber scrolled the page
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--example", default="real-vtest-street-b")
    parser.add_argument("--expression", default="the woman in the red jacket",
                        help="'' for the example's first suggestion")
    parser.add_argument("--frame", type=int, default=30)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshot.png")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is absent: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="derrvos-screenshot-") as tmp:
        service, demo = start_studio(args.checkpoint, Path(tmp))
        try:
            example = {e.name: e for e in service.examples()}[args.example]
            if example.missing:
                parser.error(f"the example {args.example} is not ready: {example.missing}")
            expression = args.expression or (example.expressions[0] if example.expressions else "the object")
            capture(demo.local_url, example.title, expression, args.frame, args.threshold, args.out)
        finally:
            demo.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
