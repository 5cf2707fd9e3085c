"""Store methods for model versions (registered by refit with their report) and export records."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from derrvos_core.errors import InputError
from derrvos_core.store.records import ExportRecord, ModelVersionRecord, as_utc
from derrvos_core.store.schema import ExportRow, ModelVersionRow
from derrvos_core.validation import check_text, stored_name


class RegistryMethods:
    """Mixed into `Store`; relies on its `_read` and `_write`."""

    def register_model_version(self, name: str, version: str, path: str | os.PathLike,
                               metrics: Mapping, base_version: str | None = None) -> ModelVersionRecord:
        """Record a model checkpoint and the report that justified it (metrics must be JSON-serialisable).
        Registering the same version again updates its path and report."""
        if not name or not version:
            raise InputError(f"a model version needs a name and a version, got {name!r} / {version!r}")
        stored_name(name, "the model name")
        stored_name(version, "the model version")
        if base_version is not None:
            stored_name(base_version, "the base model version")
        check_text(os.fspath(path), "the model path", max_chars=4096)
        try:
            report = json.loads(json.dumps(dict(metrics), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InputError(f"model version {version}: metrics are not plain JSON ({exc})") from exc

        def work(session: Session) -> ModelVersionRecord:
            row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.version == version))
            if row is None:
                row = ModelVersionRow(name=name, version=version)
                session.add(row)
            row.path, row.metrics, row.base_version = str(Path(path)), report, base_version
            session.flush()
            return _model_version(row)
        return self._write(work, retries=3)

    def get_model_version(self, version: str) -> ModelVersionRecord | None:
        with self._read() as session:
            row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.version == version))
            return None if row is None else _model_version(row)

    def model_versions(self) -> list[ModelVersionRecord]:
        """Registered models, oldest first."""
        with self._read() as session:
            rows = session.scalars(select(ModelVersionRow).order_by(ModelVersionRow.id))
            return [_model_version(r) for r in rows]

    def record_export(self, fmt: str, out_path: str | os.PathLike, video_ids: list[int], run_ids: list[int],
                      num_expressions: int, num_frames: int, num_corrected_frames: int) -> ExportRecord:
        stored_name(fmt, "the export format", max_chars=32)
        check_text(os.fspath(out_path), "the export path", max_chars=4096)

        def work(session: Session) -> ExportRecord:
            row = ExportRow(format=fmt, out_path=str(out_path), video_ids=[int(v) for v in video_ids],
                            run_ids=[int(r) for r in run_ids], num_expressions=int(num_expressions),
                            num_frames=int(num_frames), num_corrected_frames=int(num_corrected_frames))
            session.add(row)
            session.flush()
            return _export(row)
        return self._write(work)

    def exports(self) -> list[ExportRecord]:
        with self._read() as session:
            return [_export(r) for r in session.scalars(select(ExportRow).order_by(ExportRow.id))]


def _model_version(row: ModelVersionRow) -> ModelVersionRecord:
    return ModelVersionRecord(id=row.id, name=row.name, version=row.version, path=row.path,
                              metrics=dict(row.metrics), base_version=row.base_version,
                              created_at=as_utc(row.created_at))


def _export(row: ExportRow) -> ExportRecord:
    return ExportRecord(id=row.id, format=row.format, out_path=row.out_path, video_ids=tuple(row.video_ids),
                        run_ids=tuple(row.run_ids), num_expressions=row.num_expressions,
                        num_frames=row.num_frames,
                        num_corrected_frames=row.num_corrected_frames, created_at=as_utc(row.created_at))
