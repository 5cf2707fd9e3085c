"""Start DeRVOS Studio: `python launch.py` then open the address it prints.

    python launch.py [--host H] [--port P] [--share [--share-public]] [--auth USER:PASS | --auth-file F]
                     [--db URL] [--checkpoint C] [--device D] [--data-dir DIR] [--max-upload-mb N]

The studio opens on the real-video model (`--checkpoint default`, the same as `real`); the page's model
picker also offers the SynthRef one (`--checkpoint synthref` opens on it; a folder adds that model).
The database (`--db`, else $DERRVOS_DB, else sqlite:///derrvos.db) is created or migrated on start.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_DB = "sqlite:///derrvos.db"
MODELS_DIR = Path(__file__).resolve().parent / "assets" / "models"
REAL_MODEL_DIR = MODELS_DIR / "derrvos-real"
SYNTHREF_MODEL_DIR = MODELS_DIR / "derrvos-tiny-synthref"
SHIPPED_NAMES = ("default", "real", "synthref")


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
    p.add_argument("--checkpoint", default="default",
                   help="the model the studio opens on: 'default' or 'real' (the real-video model, "
                        "assets/models/derrvos-real), 'synthref' (the SynthRef shapes model), or a model "
                        "folder; the page's picker offers the others")
    p.add_argument("--device", default="cpu", help="torch device for DeRVOS checkpoints (cpu, cuda, cuda:1); "
                   "the real-video model always runs on the CPU")
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


def model_key(checkpoint: str) -> str:
    """The picker key of a --checkpoint value ("default" is the real model)."""
    return "real" if checkpoint == "default" else checkpoint


def load_checkpoint(checkpoint: str, device: str):
    """The model a --checkpoint value names, or a LaunchError that says which file is missing and how
    to get it."""
    key = model_key(checkpoint)
    if key == "real" and not (REAL_MODEL_DIR / "config.json").is_file():
        raise LaunchError(
            f"the real-video model is missing: {REAL_MODEL_DIR} has no config.json. Restore it with "
            "`git checkout -- assets/models/derrvos-real` (its ONNX parts: python scripts/convert_real_models.py "
            "--out assets/models/derrvos-real), or start with --checkpoint synthref.")
    if key == "synthref" and not (SYNTHREF_MODEL_DIR / "model.safetensors").is_file():
        raise LaunchError(
            f"the SynthRef model is missing: {SYNTHREF_MODEL_DIR} has no model.safetensors. Train it with the "
            "training scripts (see README, 'Training the shipped model'), or start with "
            "--checkpoint DIR pointing at a model directory (model.safetensors + config.json).")
    if key not in SHIPPED_NAMES and not Path(key).exists():
        raise LaunchError(f"--checkpoint {checkpoint}: no such model directory (or use default, real, synthref)")
    from derrvos_core.errors import CheckpointError

    try:
        return load_for_picker(key, device)
    except (CheckpointError, FileNotFoundError) as exc:
        raise LaunchError(f"cannot load the model {checkpoint}: {exc}") from exc


def load_for_picker(key: str, device: str):
    """One model of the studio by picker key, the real-video model on the CPU whatever --device says;
    CheckpointError (the page shows it) when it cannot be loaded."""
    from derrvos_core.model import catalog
    from derrvos_core.model.real import is_real_folder

    on = "cpu" if is_real_folder(catalog.model_folder(key)) else device
    return catalog.load_model(key, device=on)


def model_shelf(model, key: str, device: str):
    """The page's model picker: the shipped models (and the --checkpoint folder), others loaded on pick."""
    from app.models import ModelShelf, shipped_choices

    return ModelShelf(model, key, shipped_choices(key), load=lambda other: load_for_picker(other, device))


def open_store(url: str):
    from derrvos_core.store import Store

    try:
        store = Store(url, use_env=False)
        store.upgrade()
    except Exception as exc:
        from derrvos_core.store.engine import redact
        raise LaunchError(f"cannot open or migrate the database {redact(url)}: {exc}") from exc
    return store


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        auth = parse_auth(args.auth, args.auth_file)
        check_share(args, auth)
        model = load_checkpoint(args.checkpoint, args.device)
        models = model_shelf(model, model_key(args.checkpoint), args.device)
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
    service = StudioService(model, store, config, models)
    print(f"DeRVOS Studio: model {model.version} ({models.label(models.first_key)}), database {store!r}, "
          f"data in {args.data_dir}")
    missing = [e for e in service.examples() if e.missing]
    if missing:
        print(f"{len(missing)} real-video examples are not set up yet (python training/realref_setup.py "
              "writes their frames)")
    serve(build_app(service), service, ServeOptions(host=args.host, port=args.port, share=args.share,
                                                    auth=auth, max_upload_mb=args.max_upload_mb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
