"""Store tests against a real SQLite file and a real PostgreSQL server (tests/pg.py)."""
from __future__ import annotations


import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, inspect, text

from derrvos_core.errors import InputError
from derrvos_core.store import CorrectionKind, Store
from derrvos_core.store import migrate
from derrvos_core.store.engine import DEFAULT_URL, resolve_url
from derrvos_core.store.rle import encode_rle
from tests.helpers_store import H, T, W, box, make_frames, make_result, seeded_store


def test_save_and_load_round_trip(store, tmp_path):
    store, run_id = seeded_store(store, tmp_path / "frames")
    loaded = store.load_run(run_id)
    assert loaded == make_result()  # every score, RLE and setting comes back as it went in
    run = store.get_run(run_id)
    assert (run.model_name, run.model_version, run.crop_size, run.threshold) == \
        ("derrvos-tiny", "derrvos-tiny@abc123", 3, 0.7)
    assert run.timings == {"trajectory": 0.5, "tais": 0.25} and run.expression == "the left square"
    assert run.created_at.tzinfo is not None
    # Threshold re-selection works on the reloaded run, without the model.
    assert loaded.selected == (0, 3)
    assert loaded.select(0.45).selected == (0, 1, 3, 4)
    assert np.array_equal(loaded.select(0.1).masks, make_result().select(0.1).masks)


def test_video_identity_is_content(store, tmp_path):
    folder = make_frames(tmp_path / "a", seed=1)
    first = store.add_video(folder, fps=10, num_frames=T, height=H, width=W)
    copy = tmp_path / "b"
    copy.mkdir()
    for f in folder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert store.add_video(copy, fps=10, num_frames=T, height=H, width=W).id == first.id
    other = store.add_video(make_frames(tmp_path / "c", seed=2), fps=10, num_frames=T, height=H, width=W)
    assert other.id != first.id and len(store.videos()) == 2
    assert first.frame_names == tuple(f"{i:05d}" for i in range(T))
    assert store.add_expression(first.id, "a b").id == store.add_expression(first.id, "a b").id
    assert [e.text for e in store.expressions(first.id)] == ["a b"]


def test_corrections_replay_in_order(store, tmp_path):
    store, run_id = seeded_store(store, tmp_path / "frames")
    model = store.final_masks(run_id)
    assert np.array_equal(model.masks, make_result().masks) and not model.corrected.any()

    store.accept(run_id, 1, user="ann")  # crop 0's second trajectory joins the answer in frames 0..2
    store.reject(run_id, 3, user="ann")  # crop 1's best leaves it in frames 3..5
    final = store.final_masks(run_id)
    assert final.corrected.tolist() == [True] * 6 and not final.edited.any()
    assert np.array_equal(final.masks[0], box(2, 2) | box(8, 10))
    assert not final.masks[3:].any()

    stroke = box(18, 20, size=4)
    drawn = store.draw(run_id, 4, stroke, user="bob")
    assert np.array_equal(store.final_masks(run_id).masks[4], stroke)
    assert drawn.result_rle == encode_rle(stroke)
    store.erase(run_id, 0, box(2, 2), user="bob")
    assert np.array_equal(store.final_masks(run_id).masks[0], box(8, 10) & ~box(2, 2))
    store.set_mask(run_id, 1, box(0, 0, size=2), user="bob")
    store.draw(run_id, 1, box(5, 5, size=1), user="bob")
    assert store.final_masks(run_id).masks[1].sum() == 5  # SET replaced the frame, then DRAW added one pixel

    # Undo is a correction of its own: nothing disappears, the undone one is inactive.
    undo = store.undo_last(run_id, user="bob")
    assert store.final_masks(run_id).masks[1].sum() == 4
    store.undo(undo.id, user="bob")  # redo
    assert store.final_masks(run_id).masks[1].sum() == 5
    store.set_threshold(run_id, 0.45, user="ann")  # re-selects, but the explicit reject of 3 stays
    final = store.final_masks(run_id)
    assert np.array_equal(final.masks[5], make_result().trajectories[4].mask(5, H, W))
    kinds = [c.kind for c in store.corrections(run_id)]
    assert kinds == [CorrectionKind.ACCEPT, CorrectionKind.REJECT, CorrectionKind.DRAW, CorrectionKind.ERASE,
                     CorrectionKind.SET, CorrectionKind.DRAW, CorrectionKind.UNDO, CorrectionKind.UNDO,
                     CorrectionKind.THRESHOLD]
    frames = list(store.iter_final_masks(run_id))
    assert [f.edited for f in frames] == [True, True, False, False, True, False]
    assert all(np.array_equal(f.mask, final.masks[f.frame]) for f in frames)


def test_corrected_flag_is_per_frame(store, tmp_path):
    store, run_id = seeded_store(store, tmp_path / "frames")
    store.reject(run_id, 4, user="ann")  # a crop-1 trajectory: frames 3..5 only
    store.draw(run_id, 0, box(0, 0, 2), user="ann")
    assert store.final_masks(run_id).corrected.tolist() == [True, False, False, True, True, True]
    store.undo_last(run_id, user="ann")
    store.undo_last(run_id, user="ann")
    assert not store.final_masks(run_id).corrected.any()
    assert store.undo_last(run_id, user="ann") is None


def test_bad_input_names_the_cause(store, tmp_path):
    store, run_id = seeded_store(store, tmp_path / "frames")
    with pytest.raises(InputError, match="no trajectory 99"):
        store.accept(run_id, 99, user="ann")
    with pytest.raises(InputError, match="mask shape"):
        store.draw(run_id, 0, np.zeros((5, 5), bool), user="ann")
    with pytest.raises(InputError, match="frame 6 is outside"):
        store.draw(run_id, 6, box(0, 0), user="ann")
    with pytest.raises(InputError, match="user name"):
        store.draw(run_id, 0, box(0, 0), user="")
    with pytest.raises(InputError, match="unknown correction kind"):
        store.add_correction(run_id, "paint", user="ann")
    with pytest.raises(InputError, match="no run with id 999"):
        store.load_run(999)
    video = store.videos()[0]
    with pytest.raises(InputError, match="result is 4 frames"):
        store.save_run(video, "x", make_result(num_frames=4), "m@1")
    assert store.count("corrections") == 0 and store.count("runs") == 1  # failed saves left nothing


def test_model_versions_and_answer_runs(store, tmp_path):
    store, first = seeded_store(store, tmp_path / "frames")
    registered = store.register_model_version("derrvos-tiny", "derrvos-tiny@def456", tmp_path / "ckpt",
                                              {"before": {"J&F": 0.5}, "after": {"J&F": 0.6}},
                                              base_version="derrvos-tiny@abc123")
    assert store.get_model_version("derrvos-tiny@def456").metrics["after"]["J&F"] == 0.6
    video = store.videos()[0]
    second = store.save_run(video, "the left square", make_result(), "derrvos-tiny@def456")
    assert store.get_run(second).model_version_id == registered.id
    assert [r.id for r in store.answer_runs()] == [second]  # newest run when none is corrected
    store.accept(first, 1, user="ann")
    assert [r.id for r in store.answer_runs()] == [first]  # a corrected run wins over a newer one
    assert [r.id for r in store.answer_runs(corrected_only=True)] == [first]
    assert store.answer_runs(video_ids=[video.id + 1]) == []
    store.delete_run(first)
    assert store.count("corrections") == 0 and store.count("trajectories") == 6


def test_schema_matches_models(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from derrvos_core.store.schema import Base
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []


def test_older_database_is_upgraded(store, tmp_path):
    """A database made at revision 0001 (with data) is migrated by `upgrade()` and keeps its data."""
    old = Store(store.url)
    with old.engine.begin() as connection:  # start again from nothing, at the first revision
        for table in ("corrections", "trajectories", "runs", "exports", "model_versions", "expressions",
                      "videos", "alembic_version"):
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
    assert old.upgrade("0001") == "0001" and old.needs_upgrade()
    assert "model_versions" not in inspect(old.engine).get_table_names()
    with old.engine.begin() as connection:
        def insert(table: str, values: str) -> int:  # ids from RETURNING: PostgreSQL sequences stay right
            return connection.execute(text(f"INSERT INTO {table} {values} RETURNING id")).scalar()
        video = insert("videos", "(content_hash, path, fps, num_frames, height, width, frame_names, "
                       "created_at) VALUES ('h', '/v', 10, 6, 24, 32, "
                       "'[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]', CURRENT_TIMESTAMP)")
        expression = insert("expressions", f"(video_id, text, text_hash, created_at) "
                            f"VALUES ({video}, 'old one', 'x', CURRENT_TIMESTAMP)")
        old_run = insert("runs", f"(video_id, expression_id, model_name, model_version, crop_size, "
                         f"threshold, at_least_one, link_crops, device, num_frames, height, width, "
                         f"expression_read, selected, warnings, timings, created_at) VALUES ({video}, "
                         f"{expression}, 'm', 'm@0', 3, 0.7, false, false, 'cpu', 6, 24, 32, 'old one', "
                         f"'[0]', '[]', '{{}}', CURRENT_TIMESTAMP)")
        insert("trajectories", f"(run_id, trajectory_index, crop_index, frame_start, score, link_id, rles) "
               f"VALUES ({old_run}, 0, 0, 0, 0.9, 0, '[null, null, null, null, null, null]')")
        insert("corrections", f"(run_id, kind, \"user\", created_at, threshold) "
               f"VALUES ({old_run}, 'threshold', 'ann', CURRENT_TIMESTAMP, 0.5)")
    old.close()

    upgraded = Store(store.url)
    assert upgraded.upgrade() == migrate.head_revision() and not upgraded.needs_upgrade()
    assert upgraded.get_video(video).frame_names == ("a", "b", "c", "d", "e", "f")
    # The rebuild of `runs` on SQLite must not cascade into the old run's children.
    assert [upgraded.count(t) for t in ("runs", "trajectories", "corrections")] == [1, 1, 1]
    assert upgraded.corrections(old_run)[0].threshold == 0.5 and upgraded.load_run(old_run).selected == (0,)
    run_id = upgraded.save_run(video, expression, make_result(), "m@1")
    upgraded.accept(run_id, 1, user="ann")
    new_run = upgraded.get_run(run_id)
    assert new_run.expression == "old one" and new_run.model_version_id is None
    assert "model_version_id" in {c["name"] for c in inspect(upgraded.engine).get_columns("runs")}
    upgraded.close()


def test_sqlite_connection_settings(tmp_path):
    with Store.open(tmp_path / "s.db") as store:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_url_resolution_reads_env_only_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("DERRVOS_DB", "sqlite:///from-env.db")
    assert resolve_url() == "sqlite:///from-env.db"
    assert resolve_url(use_env=False) == DEFAULT_URL
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.delenv("DERRVOS_DB")
    assert resolve_url() == DEFAULT_URL
    with pytest.raises(InputError, match="not a database URL"):
        resolve_url("nope://")
    engine = create_engine(DEFAULT_URL)  # sanity: the default is a valid SQLAlchemy URL
    assert engine.url.database == "derrvos.db"


def test_store_samples_for_refit(tmp_path):
    from derrvos_core.store.samples import store_samples

    store, run_id = seeded_store(Store.open(tmp_path / "s.db"), tmp_path / "frames")
    other = store.add_video(make_frames(tmp_path / "other", seed=3), fps=10, num_frames=T, height=H, width=W)
    store.save_run(other, "nothing corrected here", make_result(), "m@1")
    assert store_samples(store) == []
    store.draw(run_id, 2, box(0, 0, 3), user="ann")
    (sample,) = store_samples(store)
    assert sample.expression == "the left square" and sample.extra["run_id"] == run_id
    assert np.array_equal(sample.target_masks, store.final_masks(run_id).masks)
    assert sample.extra["edited"].tolist() == [False, False, True, False, False, False]
    assert sample.load_frames().shape == (T, H, W, 3)
    assert len(store_samples(store, corrected_only=False)) == 2


def test_add_video_file_reads_size_and_frame_order(tmp_path):
    folder = tmp_path / "natural"
    folder.mkdir()
    for i in (1, 2, 10):  # read as 1, 2, 10 (not 1, 10, 2)
        Image.fromarray(np.full((H, W, 3), i, dtype=np.uint8)).save(folder / f"{i}.png")
    with Store.open(tmp_path / "s.db") as store:
        video = store.add_video_file(folder, fps=12)
        assert (video.num_frames, video.height, video.width, video.fps) == (3, H, W, 12.0)
        assert video.frame_names == ("1", "2", "10")
        from derrvos_core.errors import VideoError
        with pytest.raises(VideoError):
            store.add_video_file(tmp_path / "missing.mp4")
