"""Trajectory branch (tiny config): shapes, tracking identity, sessions, windows, bad input."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from derrvos_core.errors import InputError
from derrvos_core.trajectory import (
    SegmenterOutput,
    TrackerSession,
    Trajectories,
    TrajectoryConfig,
    TrajectoryGenerator,
)


@pytest.fixture(scope="module")
def generator() -> TrajectoryGenerator:
    torch.manual_seed(0)
    return TrajectoryGenerator.from_config(TrajectoryConfig.tiny()).eval()


def _frames(t: int, h: int = 64, w: int = 80, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(t, 3, h, w, generator=g) * 255


def test_generate_shapes_and_types(generator):
    cfg = generator.cfg
    traj = generator.generate(_frames(3, 70, 90), top_k=5)  # not a multiple of 32: padded internally
    assert isinstance(traj, Trajectories)
    assert traj.embeddings.shape == (5, 3, cfg.embed_dim)
    assert traj.mask_logits.shape == (5, 3, 18, 23)  # ceil(70/4), ceil(90/4)
    assert traj.class_logits.shape == (5, cfg.segmenter.num_classes + 1)
    assert traj.boxes.shape == (5, 3, 4) and traj.areas.shape == (5, 3)
    assert torch.all((traj.scores >= 0) & (traj.scores <= 1))
    assert torch.all(traj.scores[:-1] >= traj.scores[1:])  # best first
    # refiner embeddings are LayerNorm'd: ~zero mean, unit variance per vector
    assert traj.embeddings.mean(-1).abs().max() < 1e-4
    # kinematics agree with the masks they came from
    area = (traj.mask_logits > 0).float().mean(dim=(-1, -2))
    assert torch.allclose(traj.areas, area)


def test_default_top_k_and_one_frame(generator):
    traj = generator.generate(_frames(1))
    assert traj.num_frames == 1
    assert traj.num_trajectories == min(generator.cfg.top_k, generator.cfg.segmenter.num_queries)


def test_generate_equals_finer_steps(generator):
    frames = _frames(3)
    with torch.no_grad():
        seg = generator.segment_frames(frames)
        full = generator.refine(seg, generator.track(seg, TrackerSession.new()))
    top = generator.generate(frames, top_k=4)
    assert torch.allclose(full.top_k(4).mask_logits, top.mask_logits, atol=1e-5)


def test_segmenter_output_layout(generator):
    cfg = generator.cfg.segmenter
    with torch.no_grad():
        seg = generator.segment_frames(_frames(2))
    q, e = cfg.num_queries, cfg.embed_dim
    assert seg.embeddings.shape == seg.raw_embeddings.shape == (2, q, e)
    # 64 x 80 frames are padded to 64 x 96 (multiple of 32); segmenter outputs are at 1/4 of that
    assert seg.image_size == (64, 80)
    assert seg.mask_features.shape == (2, cfg.mask_dim, 16, 24)
    assert seg.mask_logits.shape == (2, q, 16, 24)
    # the re-id half is shared; the query half differs only by the LayerNorm
    assert torch.equal(seg.embeddings[..., cfg.hidden_dim:], seg.raw_embeddings[..., cfg.hidden_dim:])
    decoder_norm = generator.segmenter.mask2former.model.transformer_module.decoder.layernorm
    with torch.no_grad():
        normed = decoder_norm(seg.raw_embeddings[..., :cfg.hidden_dim])
    assert torch.allclose(normed, seg.embeddings[..., :cfg.hidden_dim], atol=1e-6)


def _permuted_clip(num_frames: int, q: int, e: int, noise: float, seed: int):
    """Identical queries each frame (plus a little noise), shuffled into a new order per frame."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(q, e, generator=g)
    perms = [torch.randperm(q, generator=g) for _ in range(num_frames)]
    emb = torch.stack([base[p] + noise * torch.randn(q, e, generator=g) for p in perms])
    feats = torch.randn(num_frames, 64, 8, 8, generator=g)
    masks = torch.randn(num_frames, q, 8, 8, generator=g)
    seg = SegmenterOutput(embeddings=emb, raw_embeddings=emb * 2.0,
                          class_logits=torch.randn(num_frames, q, 2, generator=g),
                          mask_logits=masks, mask_features=feats, image_size=(32, 32))
    return seg, torch.stack(perms)


def test_tracker_keeps_identity_of_shuffled_queries(generator):
    cfg = generator.cfg.segmenter
    seg, perms = _permuted_clip(5, cfg.num_queries, cfg.embed_dim, noise=0.05, seed=3)
    with torch.no_grad():
        out = generator.track(seg)
    # slot i of frame t was seeded by segmenter query indices[t, i], i.e. base object perms[t][indices[t, i]]
    objects = torch.gather(perms, 1, out.indices)
    assert torch.equal(objects, objects[:1].expand_as(objects)), "a slot changed object between frames"
    assert sorted(objects[0].tolist()) == list(range(cfg.num_queries))
    # the reordered frames are identical up to noise, so the tracker's outputs settle to the same values
    assert torch.allclose(out.embeddings[3], out.embeddings[4], atol=0.5)


def test_session_reset_per_crop_and_linking(generator):
    crop_a, crop_b = _frames(2, seed=5), _frames(2, seed=6)
    fresh = generator.generate(crop_b, session=TrackerSession.new(), top_k=4)
    session = TrackerSession.new()
    generator.generate(crop_a, session=session)
    assert session.started and session.frames_seen == 2
    again = generator.generate(crop_b, session=None, top_k=4)  # a new crop starts from scratch
    assert torch.allclose(fresh.mask_logits, again.mask_logits, atol=1e-5)
    linked = generator.generate(crop_b, session=session, top_k=4)  # continues crop_a's tracks
    assert session.frames_seen == 4
    assert not torch.allclose(fresh.embeddings, linked.embeddings, atol=1e-3)


def test_tracker_windows_of_three_equal_one_call(generator):
    with torch.no_grad():
        seg = generator.segment_frames(_frames(7, seed=8))
        whole = generator.track(seg, TrackerSession.new())
        session = TrackerSession.new()
        parts = [generator.track(seg.slice(s, s + 3), session) for s in range(0, 7, 3)]
    assert session.frames_seen == 7
    assert torch.equal(torch.cat([p.indices for p in parts]), whole.indices)
    for name in ("embeddings", "references", "class_logits", "mask_logits"):
        joined = torch.cat([getattr(p, name) for p in parts])
        assert torch.allclose(joined, getattr(whole, name), atol=1e-4), name


def test_eval_computes_only_last_layer_heads(generator):
    seg, _ = _permuted_clip(2, generator.cfg.segmenter.num_queries, generator.cfg.embed_dim, 0.0, seed=2)
    n_track, n_ref = generator.cfg.tracker.num_layers, generator.cfg.refiner.num_layers
    with torch.no_grad():
        ev = generator.tracker(seg, TrackerSession.new())
        generator.train()
        try:
            tr = generator.tracker(seg, TrackerSession.new())
            rtr = generator.refiner(tr.embeddings, seg.raw_embeddings, seg.mask_features)
        finally:
            generator.eval()
        rev = generator.refiner(ev.embeddings, seg.raw_embeddings, seg.mask_features)
    assert ev.layer_class_logits.shape[0] == 1 and tr.layer_class_logits.shape[0] == n_track
    assert rev.layer_mask_logits.shape[0] == 1 and rtr.layer_class_logits.shape[0] == n_ref


def test_weighted_average_noise_labels_the_dominant_query():
    from derrvos_core.trajectory.matching import weighted_average_noise

    queries = torch.eye(6) * 10.0
    indices, noised = weighted_average_noise(queries, generator=torch.Generator().manual_seed(4))
    # each noised query is a blend of two originals; its label is the one with the larger weight
    dominant = noised.argmax(dim=1)
    assert torch.equal(indices, dominant)
    assert torch.allclose(noised.sum(dim=1), torch.full((6,), 10.0))


def test_training_noise_only_after_the_first_frame():
    cfg = TrajectoryConfig.tiny()
    noisy = dataclasses.replace(cfg, tracker=dataclasses.replace(cfg.tracker, noise_ratio=1.0))
    gen = TrajectoryGenerator.from_config(noisy).train()
    seg, perms = _permuted_clip(4, cfg.segmenter.num_queries, cfg.embed_dim, 0.0, seed=9)
    torch.manual_seed(0)
    with torch.no_grad():
        out = gen.track(seg)
    objects = torch.gather(perms, 1, out.indices)
    assert sorted(objects[0].tolist()) == list(range(cfg.segmenter.num_queries))  # first frame: matched
    assert not torch.equal(objects[1:], objects[:1].expand(3, -1))  # later frames: noised labels


def test_config_json_round_trip():
    for cfg in (TrajectoryConfig.tiny(), TrajectoryConfig.full()):
        assert TrajectoryConfig.from_json(cfg.to_json()) == cfg
    assert TrajectoryConfig.full().embed_dim == 512
    with pytest.raises(InputError, match="unknown config keys"):
        TrajectoryConfig.from_dict({"tracker": {"layers": 3}})


@pytest.mark.parametrize("frames, message", [
    (torch.zeros(0, 3, 64, 64), "no frames"),
    ([], "no frames"),
    ([torch.zeros(3, 64, 64), torch.zeros(3, 64, 80)], "differ in size"),
    (torch.zeros(2, 1, 64, 64), "3 channels"),
    (torch.zeros(2, 64, 64, 3), "channels-last"),
    (torch.zeros(2, 3, 64, 64, dtype=torch.uint8), "float"),
    (torch.zeros(3, 64, 64), r"\[T, 3, H, W\]"),
    (torch.zeros(1, 3, 16, 64), "too small"),
    (torch.full((1, 3, 64, 64), float("nan")), "NaN"),
])
def test_bad_input_is_named(generator, frames, message):
    with pytest.raises(InputError, match=message):
        generator.generate(frames)


def test_frame_list_input(generator):
    frames = _frames(2)
    a = generator.generate(list(frames), top_k=3)
    b = generator.generate(frames, top_k=3)
    assert torch.allclose(a.mask_logits, b.mask_logits, atol=1e-5)
