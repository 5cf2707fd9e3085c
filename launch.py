"""Start DeRVOS Studio: `python launch.py` then open the address it prints.

    python launch.py [--host H] [--port P] [--share [--share-public]] [--auth USER:PASS | --auth-file F]
                     [--db URL] [--checkpoint C] [--device D] [--data-dir DIR] [--max-upload-mb N]

The database (`--db`, else $DERRVOS_DB, else sqlite:///derrvos.db) is created or migrated on start.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_DB = "sqlite:///derrvos.db"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "models" / "derrvos-tiny-synthref"


class LaunchError(Exception):
    """The studio cannot start as asked; the message says why and what to do."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="launch.py", description="DeRVOS Studio: referring video object "
                                "segmentation, correction and export in the browser.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link "
                   "(needs --auth/--auth-file, or --share-public)")
    p.add_argument("--share-public", action="store_true", help="allow --share without authentication: "
                   "anyone with the link can use the studio and write to its database")
    p.add_argument("--auth", action="append", default=[], metavar="USER:PASS",
                   help="require sign-in (repeat for several users); corrections are recorded under USER")
    p.add_argument("--auth-file", type=Path, help="file with one USER:PASS per line (# comments allowed)")
    p.add_argument("--db", default=None, help=f"database URL (default: $DERRVOS_DB, else {DEFAULT_DB})")
    p.add_argument("--checkpoint", default="default", help="model directory, or 'default' for the shipped "
                   f"model ({DEFAULT_MODEL_DIR.relative_to(DEFAULT_MODEL_DIR.parents[2])})")
    p.add_argument("--device", default="cpu", help="torch device for the model (cpu, cuda, cuda:1)")
    p.add_argument("--data-dir", type=Path, default=Path("data/studio"),
                   help="where uploads, exports and overlay videos are kept (default ./data/studio)")
    p.add_argument("--max-upload-mb", type=float, default=500.0, help="largest accepted upload (default 500)")
    p.add_argument("--user", default="annotator", help="name corrections are recorded under without --auth")
    return p


def parse_auth(values: list[str], auth_file: Path | None) -> tuple[tuple[str, str], ...]:
    """(user, password) pairs from --auth values and the lines of --auth-file."""
    lines = list(values)
    if auth_file is not None:
        try:
            text = auth_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise LaunchError(f"--auth-file {auth_file}: cannot read it ({exc.strerror})") from exc
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    pairs = []
    for line in lines:
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            raise LaunchError(f"authentication entry {user.strip() or line!r}... is not USER:PASS "
                              "(a user name, a colon, a non-empty password)")
        pairs.append((user.strip(), password))
    return tuple(pairs)


def check_share(args, auth: tuple) -> None:
    if args.share and not auth and not args.share_public:
        raise LaunchError("--share makes the studio reachable by anyone who has the link, and they could "
                          "read your videos and write to your database. Add --auth USER:PASS (or "
                          "--auth-file), "
                          "or pass --share-public if a public studio is really what you want.")


def load_checkpoint(checkpoint: str, device: str):
    """The model, or a LaunchError that says which file is missing and how to get it."""
    if checkpoint == "default" and not (DEFAULT_MODEL_DIR / "model.safetensors").is_file():
        raise LaunchError(
            f"the shipped model is missing: {DEFAULT_MODEL_DIR} has no model.safetensors. Train it with the "
            "training scripts (see README, 'Training the shipped model'), or start with "
            "--checkpoint DIR pointing at a model directory (model.safetensors + config.json).")
    if checkpoint != "default" and not Path(checkpoint).exists():
        raise LaunchError(f"--checkpoint {checkpoint}: no such model directory")
    from derrvos_core.errors import CheckpointError
    from derrvos_core.model import load_model

    try:
        return load_model(checkpoint, device=device)
    except CheckpointError as exc:
        raise LaunchError(f"cannot load the model from {checkpoint}: {exc}") from exc
    except FileNotFoundError as exc:
        raise LaunchError(f"cannot load the model from {checkpoint}: {exc}") from exc


def open_store(url: str):
    from derrvos_core.store import Store

    try:
        store = Store(url, use_env=False)
        store.upgrade()
    except Exception as exc:  # noqa: BLE001 - any database failure ends the start with its reason
        from derrvos_core.store.engine import redact
        raise LaunchError(f"cannot open or migrate the database {redact(url)}: {exc}") from exc
    return store


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        auth = parse_auth(args.auth, args.auth_file)
        check_share(args, auth)
        model = load_checkpoint(args.checkpoint, args.device)
        store = open_store(args.db or os.environ.get("DERRVOS_DB") or DEFAULT_DB)
    except LaunchError as exc:
        print(f"launch.py: {exc}", file=sys.stderr)
        return 2

    from app.config import StudioConfig
    from app.server import ServeOptions, serve
    from app.service import StudioService
    from app.ui import build_app

    config = StudioConfig(data_dir=args.data_dir, max_upload_mb=args.max_upload_mb, default_user=args.user,
                          device=args.device)
    service = StudioService(model, store, config)
    print(f"DeRVOS Studio: model {model.version} on {args.device}, database {store!r}, "
          f"data in {args.data_dir}")
    serve(build_app(service), service, ServeOptions(host=args.host, port=args.port, share=args.share,
                                                    auth=auth, max_upload_mb=args.max_upload_mb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
