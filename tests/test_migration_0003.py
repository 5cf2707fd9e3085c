"""Revision 0003 upgrades a store that already holds runs and corrections (SQLite and PostgreSQL)."""
from __future__ import annotations

import json

import numpy as np
from sqlalchemy import inspect, text

from derrvos_core.objects import DRAWN_OBJECT_ID
from derrvos_core.store import CorrectionItem, CorrectionKind, Store
from derrvos_core.store.rle import encode_rle
from tests.helpers_store import box

TABLES = ("corrections", "trajectories", "runs", "exports", "model_versions", "expressions", "videos",
          "alembic_version")


def fill_at_0002(url: str) -> int:
    """A store at revision 0002 with one run (one trajectory on every frame) and two corrections, written
    with the columns 0002 has, as the code of that revision wrote them. Returns the run id."""
    old = Store(url)
    with old.engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
    assert old.upgrade("0002") == "0002"
    track = json.dumps([encode_rle(box(2, 2)) for _ in range(6)])
    with old.engine.begin() as connection:
        def insert(table: str, values: str, **params) -> int:
            return connection.execute(text(f"INSERT INTO {table} {values} RETURNING id"), params).scalar()
        video = insert("videos", "(content_hash, path, fps, num_frames, height, width, frame_names, created_at) "
                       "VALUES ('h', '/v', 10, 6, 24, 32, :names, CURRENT_TIMESTAMP)",
                       names=json.dumps([f"{i:05d}" for i in range(6)]))
        expression = insert("expressions", "(video_id, text, text_hash, created_at) "
                            "VALUES (:v, 'the square', 'x', CURRENT_TIMESTAMP)", v=video)
        run = insert("runs", "(video_id, expression_id, model_name, model_version, crop_size, threshold, "
                     "at_least_one, link_crops, device, num_frames, height, width, expression_read, selected, "
                     "warnings, timings, created_at) VALUES (:v, :e, 'm', 'm@0', 6, 0.7, false, false, 'cpu', 6, "
                     "24, 32, 'the square', '[0]', '[]', '{}', CURRENT_TIMESTAMP)", v=video, e=expression)
        insert("trajectories", "(run_id, trajectory_index, crop_index, frame_start, score, link_id, rles) "
               "VALUES (:r, 0, 0, 0, 0.9, 0, :t)", r=run, t=track)
        insert("corrections", "(run_id, kind, \"user\", created_at, threshold) "
               "VALUES (:r, 'threshold', 'ann', CURRENT_TIMESTAMP, 0.5)", r=run)
        insert("corrections", "(run_id, kind, \"user\", created_at, frame, rle) "
               "VALUES (:r, 'draw', 'ann', CURRENT_TIMESTAMP, 4, :m)", r=run,
               m=json.dumps(encode_rle(box(18, 20, size=4))))
    old.close()
    return run


def test_a_filled_store_at_0002_upgrades_and_keeps_its_answers(store):
    run_id = fill_at_0002(store.url)
    upgraded = Store(store.url)
    assert upgraded.needs_upgrade() and upgraded.upgrade() == "0003" and not upgraded.needs_upgrade()
    columns = {c["name"] for c in inspect(upgraded.engine).get_columns("corrections")}
    assert {"object_id", "source_frame", "propagated", "group_id"} <= columns
    assert [(c.kind, c.object_id, c.source_frame, c.propagated, c.group_id)
            for c in upgraded.corrections(run_id)] == [(CorrectionKind.THRESHOLD, None, None, False, None),
                                                       (CorrectionKind.DRAW, None, None, False, None)]
    assert upgraded.load_run(run_id).ignored == () and upgraded.count("trajectories") == 1
    final = upgraded.final_masks(run_id)
    assert np.array_equal(final.masks[4], box(2, 2) | box(18, 20, size=4))
    assert np.array_equal(final.masks[0], box(2, 2))
    # the new fields work on the upgraded store
    upgraded.add_corrections(run_id, [CorrectionItem(CorrectionKind.SET, frame=f, mask=box(0, 0, 3), object_id=0,
                                                     source_frame=0, propagated=True) for f in (1, 2)], user="ann")
    assert np.array_equal(upgraded.final_masks(run_id).masks[1], box(0, 0, 3))
    # the old stroke on frame 4 touches no object: it is the user-made drawn object
    assert [o.object_id for o in upgraded.answer_plan(run_id).objects] == [0, DRAWN_OBJECT_ID]
    upgraded.close()
