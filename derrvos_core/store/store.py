"""The store: one object the app, the exporter and refit talk to. Every save is one transaction."""
from __future__ import annotations

import hashlib
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from derrvos_core.errors import InputError, StoreError
from derrvos_core.result import SegmentationResult
from derrvos_core.store import migrate
from derrvos_core.store.engine import WRITE_OPTION, make_engine, redact, resolve_url
from derrvos_core.store.records import ExpressionRecord, RunContext, RunRecord, VideoRecord
from derrvos_core.store.runs import (check_result, check_result_values, expression_record, load_result,
                                     run_record, run_row, trajectory_rows, video_record)
from derrvos_core.store.schema import (CorrectionRow, ExpressionRow, ModelVersionRow, RunRow, TrajectoryRow,
                                       VideoRow)
from derrvos_core.store.store_corrections import CorrectionMethods
from derrvos_core.store.store_registry import RegistryMethods
from derrvos_core.store.videos import content_hash, default_frame_names
from derrvos_core.validation import expression_text, stored_name

T = TypeVar("T")
# get-or-create races between two writers (PostgreSQL) end in a unique violation: retry that many times.
CREATE_RETRIES = 3


class Store(CorrectionMethods, RegistryMethods):
    """Videos, expressions, runs, corrections, exports and model versions in one SQL database.

    `Store(url)` connects (`url` None: `$DERRVOS_DB`, else `sqlite:///derrvos.db`); call `upgrade()`
    once at start (or use `Store.open`) to create or migrate the schema.
    """

    def __init__(self, url: str | os.PathLike | None = None, *, use_env: bool = True):
        self.url = resolve_url(url, use_env=use_env)
        self.engine = make_engine(self.url)
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})

    @classmethod
    def open(cls, url: str | os.PathLike | None = None, *, use_env: bool = True) -> "Store":
        """Connect and bring the schema up to date."""
        store = cls(url, use_env=use_env)
        store.upgrade()
        return store

    def __repr__(self) -> str:
        return f"Store({redact(self.url)!r})"

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    # -- schema -------------------------------------------------------------------------------
    def upgrade(self, revision: str = "head") -> str | None:
        """Create or migrate the schema (one transaction). Returns the revision reached; StoreError when the
        database cannot be opened (a missing folder, no permission, a server that is down)."""
        try:
            return migrate.upgrade(self.engine, revision)
        except DBAPIError as exc:
            raise store_error(exc, "open the database") from exc

    def schema_revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    def needs_upgrade(self) -> bool:
        return self.schema_revision() != migrate.head_revision()

    # -- sessions -----------------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with Session(self.engine) as session:
                yield session
        except DBAPIError as exc:
            raise store_error(exc, "read") from exc

    def _write(self, work: Callable[[Session], T], retries: int = 1) -> T:
        """Run `work` in one write transaction: all of it is committed, or none of it. A database that
        refuses the write (full disk, lost connection, a value it cannot hold) raises StoreError saying
        that nothing was saved; the caller still has what it tried to save."""
        for attempt in range(retries):
            try:
                with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
                    return work(session)
            except IntegrityError as exc:
                if attempt == retries - 1:
                    raise store_error(exc) from exc
            except DBAPIError as exc:
                raise store_error(exc) from exc
        raise AssertionError("unreachable")

    # -- videos and expressions ---------------------------------------------------------------
    def add_video(self, path: str | os.PathLike, *, fps: float, num_frames: int, height: int, width: int,
                  frame_names: list[str] | None = None, content_hash_hex: str | None = None) -> VideoRecord:
        """Register a video (a file or a frame folder) or return the one with the same content.

        The content hash is computed from the bytes unless given. A known video whose stored path has
        gone away takes the new path.
        """
        if num_frames < 1 or height < 1 or width < 1 or not fps > 0:
            raise InputError(f"video {path}: needs frames, size and fps > 0, got {num_frames} frames, "
                             f"{height}x{width}, fps {fps}")
        names = list(frame_names) if frame_names is not None else default_frame_names(path, num_frames)
        if len(names) != num_frames or len(set(names)) != num_frames:
            raise InputError(f"video {path}: {len(names)} frame names ({len(set(names))} distinct) "
                             f"for {num_frames} frames")
        digest = content_hash_hex or content_hash(path)
        where = str(Path(path).resolve())

        def work(session: Session) -> VideoRecord:
            row = session.scalar(select(VideoRow).where(VideoRow.content_hash == digest))
            if row is None:
                row = VideoRow(content_hash=digest, path=where, fps=float(fps), num_frames=int(num_frames),
                               height=int(height), width=int(width), frame_names=[str(n) for n in names])
                session.add(row)
                session.flush()
            elif row.path != where and not Path(row.path).exists():
                row.path = where
            return video_record(row)
        return self._write(work, retries=CREATE_RETRIES)

    def add_video_file(self, path: str | os.PathLike, fps: float | None = None) -> VideoRecord:
        """Register a video file or frame folder, reading its size, fps, length and frame names with
        `open_video` (`fps` for a frame folder, which has none of its own). VideoError if unreadable."""
        from derrvos_core.video import open_video  # the video reader pulls in PyAV: only when used
        with open_video(path, fps=fps) as reader:
            info, names = reader.info, reader.frame_names
        return self.add_video(path, fps=info.fps, num_frames=info.num_frames, height=info.height,
                              width=info.width, frame_names=names)

    def get_video(self, video_id: int) -> VideoRecord:
        with self._read() as session:
            return video_record(self._row(session, VideoRow, video_id))

    def find_video(self, content_hash_hex: str) -> VideoRecord | None:
        with self._read() as session:
            row = session.scalar(select(VideoRow).where(VideoRow.content_hash == content_hash_hex))
            return None if row is None else video_record(row)

    def videos(self) -> list[VideoRecord]:
        with self._read() as session:
            return [video_record(r) for r in session.scalars(select(VideoRow).order_by(VideoRow.id))]

    def add_expression(self, video_id: int, text: str) -> ExpressionRecord:
        """The expression `text` on the video, created if new (texts are kept exactly as given)."""
        return self._write(lambda s: expression_record(self._expression_row(s, video_id, text)),
                           retries=CREATE_RETRIES)

    def expressions(self, video_id: int) -> list[ExpressionRecord]:
        with self._read() as session:
            rows = session.scalars(select(ExpressionRow).where(ExpressionRow.video_id == video_id)
                                   .order_by(ExpressionRow.id))
            return [expression_record(r) for r in rows]

    def _expression_row(self, session: Session, video_id: int, text: str) -> ExpressionRow:
        expression_text(text)
        self._row(session, VideoRow, video_id)
        text_hash = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        row = session.scalar(select(ExpressionRow).where(ExpressionRow.video_id == video_id,
                                                         ExpressionRow.text_hash == text_hash))
        if row is None:
            row = ExpressionRow(video_id=video_id, text=text, text_hash=text_hash)
            session.add(row)
            session.flush()
        return row

    # -- runs ---------------------------------------------------------------------------------
    def save_run(self, video: VideoRecord | int, expression: ExpressionRecord | int | str,
                 result: SegmentationResult, model_version: str, context: RunContext = RunContext(),
                 timings: Mapping[str, float] | None = None) -> int:
        """Store a model run with all its scored trajectories (one transaction). Returns the run id.

        `expression` is a stored expression (record or id) or its text (created on the video if new);
        `model_version` is the model's version string; `timings` are seconds per stage.
        """
        video_id = video.id if isinstance(video, VideoRecord) else int(video)
        check_run_fields(result, expression, model_version, context, timings or {})  # before any write

        def work(session: Session) -> int:
            video_row = self._row(session, VideoRow, video_id)
            check_result(result, video_row)
            if isinstance(expression, str):
                expression_row = self._expression_row(session, video_id, expression)
            else:
                expression_id = expression.id if isinstance(expression, ExpressionRecord) else int(expression)
                expression_row = self._row(session, ExpressionRow, expression_id)
                if expression_row.video_id != video_id:
                    raise InputError(f"expression {expression_id} belongs to video "
                                     f"{expression_row.video_id}, not {video_id}")
            registered = session.scalar(
                select(ModelVersionRow.id).where(ModelVersionRow.version == model_version))
            row = run_row(result, video_row, expression_row, model_version, registered, context,
                          timings or {})
            session.add(row)
            session.flush()
            session.add_all(trajectory_rows(result, row.id))
            return row.id
        return self._write(work, retries=CREATE_RETRIES)

    def load_run(self, run_id: int) -> SegmentationResult:
        """The run's result as the model gave it (corrections not applied); `select` works on it."""
        with self._read() as session:
            return load_result(session, self._row(session, RunRow, run_id))

    def get_run(self, run_id: int) -> RunRecord:
        with self._read() as session:
            row = self._row(session, RunRow, run_id)
            return run_record(row, session.get(ExpressionRow, row.expression_id).text)

    def runs(self, video_id: int | None = None, expression_id: int | None = None) -> list[RunRecord]:
        """Runs, oldest first, optionally of one video and/or expression."""
        query = select(RunRow, ExpressionRow.text).join(ExpressionRow,
                                                        RunRow.expression_id == ExpressionRow.id)
        if video_id is not None:
            query = query.where(RunRow.video_id == video_id)
        if expression_id is not None:
            query = query.where(RunRow.expression_id == expression_id)
        with self._read() as session:
            return [run_record(row, text) for row, text in session.execute(query.order_by(RunRow.id))]

    def answer_runs(self, video_ids: list[int] | None = None,
                    corrected_only: bool = False) -> list[RunRecord]:
        """One run per (video, expression): the newest run with corrections, else the newest run
        (None with `corrected_only`). This is what export and refit take as the answer."""
        corrected = set(self._corrected_run_ids())
        chosen: dict[tuple[int, int], RunRecord] = {}
        for run in self.runs():
            if video_ids is not None and run.video_id not in video_ids:
                continue
            key = (run.video_id, run.expression_id)
            held = chosen.get(key)
            if held is None or (run.id in corrected) >= (held.id in corrected):
                chosen[key] = run
        picked = sorted(chosen.values(), key=lambda r: (r.video_id, r.expression_id))
        return [r for r in picked if r.id in corrected] if corrected_only else picked

    def _corrected_run_ids(self) -> list[int]:
        with self._read() as session:
            return list(session.scalars(select(CorrectionRow.run_id).distinct()))

    def delete_run(self, run_id: int) -> None:
        """Remove a run with its trajectories and corrections (the only deletion the store does)."""
        self._write(lambda s: s.delete(self._row(s, RunRow, run_id)))

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (for status lines and tests)."""
        rows = {"videos": VideoRow, "expressions": ExpressionRow, "runs": RunRow,
                "trajectories": TrajectoryRow, "corrections": CorrectionRow}
        if table not in rows:
            raise InputError(f"unknown table {table!r}; one of {sorted(rows)}")
        with self._read() as session:
            return session.scalar(select(func.count()).select_from(rows[table]))

    @staticmethod
    def _row(session: Session, model: type, row_id: int):
        try:
            number = int(row_id)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{model.__tablename__[:-1]} id must be a whole number, "
                             f"got {row_id!r}") from None
        # ids are 32-bit on PostgreSQL: a larger one is not there (and would make the backend raise)
        row = session.get(model, number) if 0 < number < 2**31 else None
        if row is None:
            raise InputError(f"no {model.__tablename__[:-1]} with id {row_id} in the store")
        return row


def check_run_fields(result: SegmentationResult, expression, model_version: str, context: RunContext,
                     timings: Mapping[str, float]) -> None:
    """InputError for what a run's columns cannot hold, checked before the transaction (and callable
    before the model runs for everything but the result): the expression text, the model version and name
    (at most 200 characters, no NUL), the device, finite scores and timings."""
    if isinstance(expression, str):
        expression_text(expression)
    stored_name(model_version, "the model version")
    stored_name(context.model_name, "the model name", empty_ok=True)
    stored_name(context.device, "the device name", max_chars=64)
    check_result_values(result)
    for stage, seconds in dict(timings).items():
        stored_name(str(stage), "a timing's stage name")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise InputError(f"timing {stage!r} must be a finite number of seconds, got {seconds!r}")


def store_error(exc: DBAPIError, action: str = "save") -> StoreError:
    """The StoreError for a database error: what happened in words, and (for a save) that nothing was
    saved."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    lowered = text.lower()
    if "disk is full" in lowered or "no space left" in lowered or "could not extend file" in lowered:
        reason = "no space left on the disk that holds the database"
    elif "readonly" in lowered or "read-only" in lowered:
        reason = "the database is read-only"
    elif "locked" in lowered:
        reason = "another program held the database locked for too long"
    elif "unable to open" in lowered:
        reason = "the database file cannot be opened (its folder is missing or not writable)"
    elif "connect" in lowered or "closed" in lowered or "terminat" in lowered:
        reason = "the connection to the database failed"
    else:
        first = text.splitlines()[0][:200] if text else ""
        reason = f"the database refused the write ({type(exc.orig or exc).__name__}: {first})"
    if action != "save":
        return StoreError(f"the store could not {action}: {reason}", reason=reason)
    return StoreError(f"the store could not save: {reason}. Nothing was saved (the store is unchanged); "
                      f"fix that and save again", reason=reason)
