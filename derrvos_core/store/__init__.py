"""Results and corrections store (SQLAlchemy + Alembic) and dataset export.

`Store.open(url)` connects and migrates; see `Store` for the repository methods and
`derrvos_core.store.export` for `export_dataset` / `export_zip`.
"""
from derrvos_core.store.records import (CorrectionItem, CorrectionKind, CorrectionRecord, ExportRecord, ExpressionRecord,
                                        FinalMasks, FrameAnswer, ModelVersionRecord, RunRecord, RunContext,
                                        VideoRecord)
from derrvos_core.store.store import Store

__all__ = ["Store", "CorrectionItem", "CorrectionKind", "CorrectionRecord", "ExportRecord", "ExpressionRecord", "FinalMasks",
           "FrameAnswer", "ModelVersionRecord", "RunRecord", "RunContext", "VideoRecord"]
