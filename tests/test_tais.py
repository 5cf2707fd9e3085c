"""TAIS: shapes, masking, deep supervision, motion guidance, labels and losses on tiny configs."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from derrvos_core.errors import InputError
from derrvos_core.multimodal.types import MultimodalTokens
from derrvos_core.tais import (NUM_SUMMARY, TAIS, RegionPooling, TAISConfig, crop_motion, kinematic_features,
                              mask_centroids, motion_summary, patch_coverage, selection_loss, trajectory_labels)
from derrvos_core.trajectory.types import Trajectories, mask_kinematics

CFG = TAISConfig(trajectory_dim=32, token_dim=24, width=32, num_heads=4, ffn_dim=64, dropout=0.0,
                 motion_kernel=3)


def boxes_masks(n: int, t: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """bool [n, t, size, size]: square objects at random places."""
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(n, t, size, size, dtype=torch.bool)
    for i in range(n):
        for j in range(t):
            y, x = torch.randint(0, size - 4, (2,), generator=g).tolist()
            masks[i, j, y:y + 4, x:x + 4] = True
    return masks


def make_trajectories(masks: torch.Tensor, dim: int = 32, seed: int = 0) -> Trajectories:
    g = torch.Generator().manual_seed(seed)
    n, t = masks.shape[:2]
    boxes, areas = mask_kinematics(masks)
    return Trajectories(embeddings=torch.randn(n, t, dim, generator=g), mask_logits=masks.float() * 2 - 1,
                        scores=torch.rand(n, generator=g), class_logits=torch.randn(n, 2, generator=g),
                        boxes=boxes, areas=areas)


def make_tokens(t: int, s: int = 10, dim: int = 24, pad: int = 3, seed: int = 1) -> MultimodalTokens:
    g = torch.Generator().manual_seed(seed)
    padding = torch.zeros(t, s, dtype=torch.bool)
    padding[:, s - pad:] = True
    return MultimodalTokens(tokens=torch.randn(t, s, dim, generator=g), padding_mask=padding,
                            num_vision_tokens=5)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tais():
    torch.manual_seed(0)
    return TAIS(CFG).eval()


def test_output_shapes_and_pooling(tais):
    traj, tokens = make_trajectories(boxes_masks(5, 4)), make_tokens(4)
    out = tais(traj, tokens)
    assert out.logits.shape == (5,)
    assert out.layer_logits.shape == (3, 5)
    assert out.frame_logits.shape == out.frame_weights.shape == (3, 5, 4)
    assert torch.equal(out.logits, out.layer_logits[-1])
    assert torch.allclose(out.frame_weights.sum(-1), torch.ones(3, 5), atol=1e-6)
    assert torch.allclose((out.frame_weights * out.frame_logits).sum(-1), out.layer_logits, atol=1e-6)
    assert ((out.scores > 0) & (out.scores < 1)).all()
    # the layers differ: each one refines the stream further
    assert not torch.allclose(out.layer_logits[0], out.layer_logits[1])


def test_single_frame_crop(tais):
    out = tais(make_trajectories(boxes_masks(3, 1)), make_tokens(1))
    assert out.frame_logits.shape == (3, 3, 1) and torch.allclose(out.frame_weights, torch.ones(3, 3, 1))


def test_padded_text_tokens_are_ignored(tais):
    traj, tokens = make_trajectories(boxes_masks(4, 3)), make_tokens(3)
    changed = tokens.tokens.clone()
    changed[:, -3:] = 100.0 * torch.randn(3, 3, 24)
    a = tais(traj, tokens).layer_logits
    b = tais(traj, MultimodalTokens(changed, tokens.padding_mask, 5)).layer_logits
    c = tais(traj, MultimodalTokens(changed, torch.zeros_like(tokens.padding_mask), 5)).layer_logits
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-3)


def test_trajectory_order_does_not_matter(tais):
    traj, tokens = make_trajectories(boxes_masks(6, 4)), make_tokens(4)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    assert torch.allclose(tais(traj.index(perm), tokens).logits, tais(traj, tokens).logits[perm], atol=1e-5)


def test_every_layer_is_supervised():
    torch.manual_seed(0)
    tais = TAIS(CFG)
    traj, tokens = make_trajectories(boxes_masks(4, 3)), make_tokens(3)
    out = tais(traj, tokens)
    out.layer_logits[0].sum().backward()
    assert tais.selectors[0].relevance.weight.grad is not None
    for later in (tais.layers[1].ffn[0].weight.grad, tais.selectors[2].relevance.weight.grad):
        assert later is None or not later.any()  # the first layer's logits do not depend on later layers
    tais.zero_grad(set_to_none=True)
    selection_loss(tais(traj, tokens).layer_logits, torch.tensor([1.0, 0, 0, 0])).backward()
    for i in range(3):
        assert tais.selectors[i].relevance.weight.grad.abs().sum() > 0
        assert tais.layers[i].cross_attn.in_proj_weight.grad.abs().sum() > 0
    assert tais.motion.conv1.weight.grad.abs().sum() > 0


def test_patch_coverage_by_hand():
    masks = torch.full((1, 2, 8, 8), -1.0)
    masks[0, 0, :4, :4] = 1.0  # frame 0: the top-left patch of a 2 x 2 grid
    masks[0, 0, 4:, 4:6] = 1.0  # ... and half as much of the bottom-right one
    cover = patch_coverage(masks, grid=2)
    assert torch.allclose(cover[0, 0], torch.tensor([2 / 3, 0, 0, 1 / 3]))
    assert not cover[0, 1].any()  # frame 1: empty mask, no weights


def test_region_pooling_reads_the_tokens_under_the_mask():
    torch.manual_seed(0)
    pool = RegionPooling(8).eval()
    masks = torch.full((2, 1, 8, 8), -1.0)
    masks[0, 0, :4, 4:] = 1.0  # trajectory 0 covers patch 1 (top right); trajectory 1 is absent
    memory = torch.randn(1, 1 + 4 + 3, 8)
    out = pool(masks, memory, num_vision_tokens=5)
    assert torch.allclose(out[0, 0], pool.proj(memory[0, 2]), atol=1e-6)
    assert not out[1].any()
    with pytest.raises(InputError):
        pool(masks, memory, num_vision_tokens=4)  # 3 patches: not a square grid


def test_region_pooling_in_tais_is_trained_and_sees_the_region():
    torch.manual_seed(0)
    tais = TAIS(TAISConfig(**{**CFG.to_dict(), "region_pooling": True})).eval()
    masks = boxes_masks(4, 3)
    traj, tokens = make_trajectories(masks), make_tokens(3)
    selection_loss(tais(traj, tokens).layer_logits, torch.tensor([1.0, 0, 0, 0])).backward()
    assert tais.region.proj[1].weight.grad.abs().sum() > 0
    assert TAIS(CFG).region is None and "region" not in str(TAIS(CFG).state_dict().keys())
    assert TAISConfig.tiny().region_pooling and TAISConfig.full().region_pooling


def test_mask_kinematics_reach_the_logits(tais):
    masks = boxes_masks(4, 5)
    traj, tokens = make_trajectories(masks), make_tokens(5)
    moved = make_trajectories(masks.roll(shifts=5, dims=-1))  # same embeddings, objects shifted right
    assert torch.equal(moved.embeddings, traj.embeddings)
    assert not torch.allclose(tais(traj, tokens).logits, tais(moved, tokens).logits, atol=1e-4)


def test_kinematic_features_by_hand():
    masks = torch.zeros(1, 2, 10, 10, dtype=torch.bool)
    masks[0, 0, 0:2, 0:2] = True  # centroid (0.1, 0.1), area 0.04
    masks[0, 1, 0:2, 4:6] = True  # moved right by 0.4
    assert torch.allclose(mask_centroids(masks.float() * 2 - 1)[0, 0], torch.tensor([0.1, 0.1]))
    feats = kinematic_features(make_trajectories(masks))
    assert feats.shape == (1, 2, 17)
    present, cx, cy, area = feats[0, :, 0], feats[0, :, 1], feats[0, :, 2], feats[0, :, 7]
    assert present.tolist() == [1.0, 1.0] and torch.allclose(area, torch.tensor([0.04, 0.04]))
    assert torch.allclose(cx, torch.tensor([0.1, 0.5])) and torch.allclose(cy, torch.tensor([0.1, 0.1]))
    delta = feats[0, :, 9:]
    assert torch.equal(delta[0], torch.zeros(8))  # no delta at the first frame
    assert delta[1, 1] == pytest.approx(0.4 * 10) and delta[1, 2] == pytest.approx(0.0)
    empty = kinematic_features(make_trajectories(torch.zeros(1, 1, 8, 8, dtype=torch.bool)))
    assert torch.equal(empty, torch.zeros(1, 1, 17))


def test_motion_is_learnable():
    """The only cue is which way an object moves: TAIS must learn 'moving right' from the kinematics."""
    torch.manual_seed(0)
    tais = TAIS(CFG)
    opt = torch.optim.AdamW(tais.parameters(), lr=3e-3)
    tokens = make_tokens(4)

    def batch(seed):
        g = torch.Generator().manual_seed(seed)
        masks = torch.zeros(6, 4, 16, 16, dtype=torch.bool)
        right = torch.rand(6, generator=g) < 0.5
        for i in range(6):
            x0 = int(torch.randint(4, 8, (1,), generator=g))
            y0 = int(torch.randint(0, 12, (1,), generator=g))
            for j in range(4):
                x = x0 + (j if right[i] else -j)
                masks[i, j, y0:y0 + 4, x:x + 4] = True
        return make_trajectories(masks, seed=seed), right.float()

    for step in range(40):
        traj, labels = batch(step)
        loss = selection_loss(tais(traj, tokens).layer_logits, labels, kind="bce")
        opt.zero_grad()
        loss.backward()
        opt.step()
    tais.eval()
    correct = total = 0
    for seed in range(1000, 1010):
        traj, labels = batch(seed)
        correct += int(((tais(traj, tokens).logits > 0).float() == labels).sum())
        total += 6
    assert correct / total > 0.9


def test_bad_inputs(tais):
    traj = make_trajectories(boxes_masks(2, 3))
    with pytest.raises(InputError, match="3 frames"):
        tais(traj, make_tokens(4))
    with pytest.raises(InputError, match="multimodal tokens"):
        tais(traj, make_tokens(3, dim=16))
    with pytest.raises(InputError, match="divisible"):
        TAISConfig(width=30, num_heads=4)


def test_labels_by_clip_iou():
    target = torch.zeros(2, 8, 8, dtype=torch.bool)
    target[:, 0:4, 0:4] = True  # 16 px per frame, 32 in the clip
    exact = target.clone()
    half = torch.zeros_like(target)
    half[:, 0:4, 0:2] = True  # IoU 0.5 exactly
    less = torch.zeros_like(target)
    less[0, 0:4, 0:2] = True  # one frame only: IoU 8 / 32
    empty = torch.zeros_like(target)
    masks = torch.stack([exact, half, less, empty])
    assert trajectory_labels(masks, target).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert trajectory_labels(masks, target, iou=0.6).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_labels_per_target_object_and_no_target():
    a = torch.zeros(1, 8, 8, dtype=torch.bool)
    a[:, :4, :4] = True
    b = torch.zeros(1, 8, 8, dtype=torch.bool)
    b[:, 4:, 4:] = True
    merged = a | b
    merged[:, 0, 6:] = True  # a little background too: IoU with a alone is 16 / 34
    masks = torch.stack([a, b, merged])
    objects = torch.stack([a, b])
    # per object, each of the two is a positive; the merged trajectory matches neither alone
    assert trajectory_labels(masks, objects).tolist() == [1.0, 1.0, 0.0]
    # against the union each single object is only half of it
    assert trajectory_labels(masks, a | b, iou=0.6).tolist() == [0.0, 0.0, 1.0]
    none = torch.zeros(1, 8, 8, dtype=torch.bool)
    assert trajectory_labels(torch.stack([none, a]), none).tolist() == [0.0, 0.0]
    assert trajectory_labels(masks, torch.zeros(0, 1, 8, 8, dtype=torch.bool)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(InputError, match="does not match"):
        trajectory_labels(masks, torch.zeros(1, 4, 4, dtype=torch.bool))


def test_best_match_labels_give_each_target_object_its_best_trajectory():
    a = torch.zeros(1, 8, 8, dtype=torch.bool)
    a[:, :4, :4] = True  # 16 px
    b = torch.zeros(1, 8, 8, dtype=torch.bool)
    b[:, 4:, 4:] = True
    part_a = torch.zeros_like(a)
    part_a[:, :4, :1] = True  # IoU 4 / 16 = 0.25 with a
    more_a = torch.zeros_like(a)
    more_a[:, :4, :2] = True  # IoU 0.5 with a
    tiny_b = torch.zeros_like(b)
    tiny_b[:, 4, 4] = True  # IoU 1 / 16 with b
    masks = torch.stack([part_a, more_a, tiny_b])
    objects = torch.stack([a, b])
    assert trajectory_labels(masks, objects).tolist() == [0.0, 1.0, 0.0]
    # a's best is more_a (already positive); b's best, tiny_b, stays below the bound
    assert trajectory_labels(masks, objects, best_match_iou=0.2).tolist() == [0.0, 1.0, 0.0]
    assert trajectory_labels(masks, objects, best_match_iou=0.05).tolist() == [0.0, 1.0, 1.0]
    # without more_a, a's best is part_a (0.25 >= 0.2)
    assert trajectory_labels(masks[[0, 2]], objects, best_match_iou=0.2).tolist() == [1.0, 0.0]
    # a target object absent from the clip makes nothing positive
    assert trajectory_labels(masks, torch.zeros(1, 1, 8, 8, dtype=torch.bool), best_match_iou=0.0).tolist() == \
        [0.0, 0.0, 0.0]


def test_duplicates_of_a_target_can_be_soft_or_left_out_of_the_loss():
    a = torch.zeros(1, 8, 8, dtype=torch.bool)
    a[:, :4, :4] = True  # 16 px
    exact, part, away = a.clone(), torch.zeros_like(a), torch.zeros_like(a)
    part[:, :4, :1] = True  # IoU 0.25 with a: a fragment, not a's best
    away[:, 6:, 6:] = True
    masks = torch.stack([exact, part, away])
    assert trajectory_labels(masks, a, best_match_iou=0.2).tolist() == [1.0, 0.0, 0.0]
    assert trajectory_labels(masks, a, best_match_iou=0.2, duplicates="soft").tolist() == [1.0, 0.25, 0.0]
    ignored = trajectory_labels(masks, a, best_match_iou=0.2, duplicates="ignore")
    assert ignored.tolist() == [1.0, -1.0, 0.0]
    assert trajectory_labels(masks, a, duplicates="ignore", duplicate_iou=0.3).tolist() == [1.0, 0.0, 0.0]
    # an ignored trajectory moves neither loss, whatever its logit; the others count as before
    for kind in ("bce", "focal"):
        low = selection_loss(torch.tensor([[3.0, -6.0, -2.0]]), ignored, kind=kind)
        high = selection_loss(torch.tensor([[3.0, 6.0, -2.0]]), ignored, kind=kind)
        kept = selection_loss(torch.tensor([[3.0, -2.0]]), torch.tensor([1.0, 0.0]), kind=kind)
        assert float(low) == pytest.approx(float(high)) == pytest.approx(float(kept))
    with pytest.raises(InputError):
        trajectory_labels(masks, a, duplicates="drop")


def test_selection_losses():
    labels = torch.tensor([1.0, 0.0, 0.0])
    logits = torch.tensor([[2.0, -1.0, 0.5], [1.0, 0.0, -3.0]])
    expected = F.binary_cross_entropy_with_logits(logits, labels.expand(2, 3))
    assert selection_loss(logits, labels, kind="bce") == pytest.approx(float(expected))
    good = selection_loss(torch.tensor([[8.0, -8.0, -8.0]] * 3), labels)
    bad = selection_loss(torch.tensor([[-8.0, 8.0, 8.0]] * 3), labels)
    assert good < 1e-4 < 1.0 < bad
    # all-negative labels (no target) still give a usable loss
    assert selection_loss(logits, torch.zeros(3)) > 0
    with pytest.raises(InputError):
        selection_loss(logits, labels, kind="dice")
    with pytest.raises(InputError):
        selection_loss(logits, torch.zeros(4))


def test_text_matching_reads_the_expressions_input_embeddings_not_padding():
    torch.manual_seed(0)
    tais = TAIS(TAISConfig(**{**CFG.to_dict(), "text_matching": True})).eval()
    traj, tokens = make_trajectories(boxes_masks(4, 3)), make_tokens(3, s=10, pad=2)  # 5 vision, 5 text
    words = torch.randn(5, 24)
    with_words = MultimodalTokens(tokens.tokens, tokens.padding_mask, 5, text_embeddings=words)
    padded_changed = words.clone()
    padded_changed[-2:] = 50.0  # the two padded positions
    other = torch.randn(5, 24)
    a = tais(traj, with_words).logits
    assert torch.allclose(a, tais(traj, MultimodalTokens(tokens.tokens, tokens.padding_mask, 5,
                                                         text_embeddings=padded_changed)).logits, atol=1e-5)
    assert not torch.allclose(a, tais(traj, MultimodalTokens(tokens.tokens, tokens.padding_mask, 5,
                                                             text_embeddings=other)).logits, atol=1e-4)
    with pytest.raises(InputError, match="text_embeddings"):
        tais(traj, tokens)


def test_text_matching_adds_a_bilinear_term_to_every_frame():
    from derrvos_core.tais.selector import ImplicitSelector

    torch.manual_seed(0)
    sel = ImplicitSelector(8, text_matching=True)
    x, sentence = torch.randn(3, 4, 8), torch.randn(4, 8)
    frame_logits, weights, logits = sel(x, sentence)
    y = sel.norm(x)
    want = sel.relevance(y).squeeze(-1) + (sel.match_query(y) * sel.match_key(sentence)).sum(-1) / 8 ** 0.5
    assert torch.allclose(frame_logits, want, atol=1e-6)
    assert torch.allclose(logits, (weights * frame_logits).sum(-1), atol=1e-6)
    assert not torch.allclose(sel(x, -sentence)[0], frame_logits)  # the words matter directly
    tais = TAIS(TAISConfig(**{**CFG.to_dict(), "text_matching": True}))
    traj, tokens = make_trajectories(boxes_masks(4, 3)), make_tokens(3)
    tokens.text_embeddings = torch.randn(5, 24, requires_grad=True)
    selection_loss(tais(traj, tokens).layer_logits, torch.tensor([1.0, 0, 0, 0])).backward()
    assert all(s.match_key[1].weight.grad.abs().sum() > 0 for s in tais.selectors)
    assert tokens.text_embeddings.grad.abs().sum() > 0  # the words get trained through the match
    assert TAISConfig.tiny().text_matching and not TAISConfig().text_matching


def _moving_square(xs: list[int], size: int = 20) -> torch.Tensor:
    """bool [1, T, size, size]: a 2 x 2 square whose left column is at xs[t] (absent where None)."""
    masks = torch.zeros(1, len(xs), size, size, dtype=torch.bool)
    for t, x in enumerate(xs):
        if x is not None:
            masks[0, t, 9:11, x:x + 2] = True
    return masks


def test_motion_summary_by_hand():
    """A square that moves right 2 px a frame for 6 frames and then stops: path facts one can count."""
    xs = [0, 2, 4, 6, 8, 10, 10, 10, 10, 10]
    s = motion_summary(make_trajectories(_moving_square(xs)))[0]
    assert s.shape == (NUM_SUMMARY,)
    visible, first, last = s[0:3].tolist()
    assert visible == 1.0 and first == 0.0 and last == 1.0
    c_first, c_last = s[3:5], s[5:7]
    assert torch.allclose(c_first, torch.tensor([0.05, 0.5])) and torch.allclose(c_last, torch.tensor([0.55, 0.5]))
    assert s[9] == pytest.approx(0.5 * 4.0)  # net x displacement (x 4)
    assert s[10] == pytest.approx(0.0)  # no net y motion
    early, middle, late = s[11:14].tolist()
    assert early > 0 and late == pytest.approx(0.0)  # it moves first and is still at the end
    assert s[16] == pytest.approx(0.5)  # path length: 10 px of 20
    assert s[17:19].tolist() == [0.0, 0.0]  # it never turns back


def test_motion_summary_counts_reversals_and_visibility():
    bounce = motion_summary(make_trajectories(_moving_square([0, 3, 6, 9, 6, 3, 0, 3])))[0]
    assert bounce[17] == 2.0 and bounce[18] == 0.0  # x turns back twice, y never
    late = motion_summary(make_trajectories(_moving_square([None, None, None, None, 4, 4, 4, 4, 4])))[0]
    assert late[0] == pytest.approx(5 / 9) and late[1] == pytest.approx(0.5)  # enters half-way through
    empty = motion_summary(make_trajectories(torch.zeros(1, 4, 8, 8, dtype=torch.bool)))
    assert torch.isfinite(empty).all()


def test_crop_motion_reads_the_crop_not_the_sample():
    """Kinematics of sampled frames come from the whole crop: deltas stay frame-to-frame deltas."""
    masks = _moving_square([0, 2, 4, 6, 8, 10, 12, 14])
    traj = make_trajectories(masks)
    idx = torch.tensor([0, 4, 7])
    kin, summary = crop_motion(traj, idx)
    full, _ = crop_motion(traj)
    assert torch.equal(kin, full[:, idx])
    assert kin[0, 1, 9 + 1] == pytest.approx(0.1 * 10)  # 2 px of 20 per frame, x 10, not the 8 px gap
    assert torch.equal(summary, motion_summary(traj))


def test_tais_with_crop_matches_inference_on_all_frames():
    """Training passes the crop and sampled frames; when every frame is sampled that is inference."""
    torch.manual_seed(0)
    tais = TAIS(TAISConfig.from_dict({**CFG.to_dict(), "motion_summary": True})).eval()
    assert tais.motion.summary_proj is not None
    masks = _moving_square([0, 2, 4, 6, 8])
    traj, tokens = make_trajectories(masks), make_tokens(5)
    same = tais(traj, tokens, crop=traj, frame_index=torch.arange(5)).logits
    assert torch.allclose(tais(traj, tokens).logits, same)


def test_tais_without_motion_stream_ignores_kinematics():
    cfg = TAISConfig.from_dict({**CFG.to_dict(), "motion_stream": False, "region_pooling": False})
    tais = TAIS(cfg).eval()
    assert tais.motion is None
    masks = boxes_masks(4, 5)
    traj, tokens = make_trajectories(masks), make_tokens(5)
    moved = make_trajectories(masks.roll(shifts=5, dims=-1))
    assert torch.allclose(tais(traj, tokens).logits, tais(moved, tokens).logits)
