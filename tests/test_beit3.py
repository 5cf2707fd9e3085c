"""BEiT-3 multiway encoder and the multimodal branch at tiny size: shapes, routing, padding, sizes."""
from __future__ import annotations

import pytest
import torch

from derrvos_core.errors import InputError
from derrvos_core.multimodal import BEiT3Config, BEiT3Encoder, MultimodalEncoder, MultimodalTokens

SMALL = BEiT3Config(vocab_size=100, embed_dim=32, num_layers=2, num_heads=4, ffn_dim=64,
                    image_size=32, patch_size=16, max_text_positions=20)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return BEiT3Encoder(SMALL).eval()


def inputs(batch=2, length=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    image = torch.randn(batch, 3, 32, 32, generator=gen)
    ids = torch.randint(4, SMALL.vocab_size, (batch, length), generator=gen)
    padding = torch.zeros(batch, length, dtype=torch.bool)
    padding[0, 4:] = True
    return image, ids.masked_fill(padding, 1), padding


def test_base_and_tiny_sizes():
    base, tiny = BEiT3Config.base(), BEiT3Config.tiny()
    assert (base.num_layers, base.embed_dim, base.num_heads, base.ffn_dim, base.vocab_size) == (12, 768, 12, 3072, 64010)
    assert base.num_vision_tokens == 197 and base.max_text_length == 1022
    assert (tiny.num_layers, tiny.embed_dim, tiny.num_heads, tiny.ffn_dim, tiny.image_size) == (4, 256, 4, 1024, 128)
    assert BEiT3Config.from_dict(tiny.to_dict()) == tiny


def test_joint_vision_only_and_text_only_shapes(model):
    image, ids, padding = inputs()
    with torch.no_grad():
        assert model(image, ids, padding).shape == (2, 5 + 6, 32)
        assert model(image).shape == (2, 5, 32)
        assert model(None, ids, padding).shape == (2, 6, 32)
    with pytest.raises(InputError):
        model()


def test_vision_and_text_attend_to_each_other(model):
    image, ids, padding = inputs()
    other_ids = ids.clone()
    other_ids[:, 1] = (ids[:, 1] + 7) % SMALL.vocab_size
    with torch.no_grad():
        a, b = model(image, ids, padding), model(image, other_ids, padding)
        vision_only = model(image)
    assert not torch.allclose(a[:, :5], b[:, :5])  # text changes the vision tokens
    assert not torch.allclose(a[:, :5], vision_only)


def test_each_modality_uses_its_own_expert():
    torch.manual_seed(1)
    net = BEiT3Encoder(SMALL).eval()
    image, ids, padding = inputs()
    with torch.no_grad():
        vision_before, text_before = net(image), net(None, ids, padding)
        for layer in net.encoder.layers:
            layer.ffn.B.fc1.weight.mul_(3.0)  # only the language expert changes
        assert torch.equal(net(image), vision_before)
        assert not torch.allclose(net(None, ids, padding), text_before)


def test_padding_is_ignored(model):
    image, ids, padding = inputs()
    longer_ids = torch.cat([ids, torch.ones(2, 3, dtype=torch.long)], 1)
    longer_pad = torch.cat([padding, torch.ones(2, 3, dtype=torch.bool)], 1)
    with torch.no_grad():
        short, long = model(image, ids, padding), model(image, longer_ids, longer_pad)
    keep = ~torch.cat([torch.zeros(2, 5, dtype=torch.bool), padding], 1)
    assert torch.allclose(short[keep], long[:, :11][keep], atol=1e-5)


def test_other_image_sizes_use_interpolated_positions(model):
    with torch.no_grad():
        out = model(torch.randn(1, 3, 48, 64))
    assert out.shape == (1, 1 + 3 * 4, 32)
    with pytest.raises(InputError, match="multiple of the patch"):
        model(torch.randn(1, 3, 40, 32))


def test_bad_text_inputs(model):
    image, ids, padding = inputs()
    with pytest.raises(InputError, match="text ids"):
        model(image, ids + SMALL.vocab_size, padding)
    with pytest.raises(InputError, match="position table"):
        model(None, torch.full((1, 19), 5), None)
    with pytest.raises(InputError, match="batch"):
        model(image[:1], ids, padding)


def test_multimodal_encoder_pairs_text_with_every_frame():
    torch.manual_seed(0)
    enc = MultimodalEncoder(BEiT3Config.tiny()).eval()
    frames = torch.rand(3, 3, 96, 120) * 255
    ids = torch.tensor([0, 40, 41, 42, 2, 1, 1, 1])
    pad = torch.tensor([False] * 5 + [True] * 3)
    with torch.no_grad():
        out = enc.encode(frames, ids, pad)
        alone = enc.encode(frames[1:2], ids, pad)
    assert isinstance(out, MultimodalTokens)
    assert out.num_vision_tokens == enc.num_vision_tokens == 65
    # trailing padding is not computed: 5 real text tokens of 8
    assert out.tokens.shape == (3, 65 + 5, 256)
    assert out.padding_mask.shape == (3, 70) and not out.padding_mask.any()
    assert torch.allclose(out.tokens[1], alone.tokens[0], atol=1e-5)  # frames are independent in the batch
    with torch.no_grad():  # ... and dropping it changes no other token
        padded = enc.beit3(enc.preprocess(frames), ids.expand(3, -1), pad.expand(3, -1))
    assert torch.allclose(out.tokens, padded[:, : 65 + 5], atol=1e-5)
    assert out.text_embeddings.shape == (5, 256)  # the 5 real tokens' input embeddings
    assert torch.equal(out.text_embeddings, enc.text_inputs(ids, pad))
    inner = torch.tensor([False, False, True, False, False, True, True, True])  # padding before a real token
    assert enc.encode(frames, ids, inner).tokens.shape == (3, 65 + 5, 256)
    assert sorted(enc.state_dict())[0].startswith("beit3.")
    with pytest.raises(InputError):
        enc.encode(frames[0], ids, pad)
    with pytest.raises(InputError):
        enc.encode(frames, ids[None], pad[None])


def test_gradients_reach_both_experts_and_masked_patches_use_the_mask_token():
    torch.manual_seed(2)
    net = BEiT3Encoder(BEiT3Config(**{**SMALL.to_dict(), "drop_path_rate": 0.1, "dropout": 0.1})).train()
    image, ids, padding = inputs()
    masked = torch.zeros(2, 4, dtype=torch.bool)
    masked[:, 0] = True
    net(image, ids, padding, vision_masked_position=masked).square().mean().backward()
    layer = net.encoder.layers[0]
    for expert in (layer.self_attn.q_proj.A, layer.self_attn.q_proj.B, layer.ffn.A.fc1, layer.ffn.B.fc1):
        assert expert.weight.grad is not None and expert.weight.grad.abs().sum() > 0
    assert net.vision_embed.mask_token.grad.abs().sum() > 0
    assert net.text_embed.weight.grad[1].abs().sum() == 0  # padding ids contribute nothing


def test_words_survive_the_random_joint_layers_of_a_model_trained_from_scratch():
    """At init the text tokens of two different expressions must differ, or stage 4 cannot learn the words
    (with torchscale's D^-0.5 embeddings the tiny encoder gave cosine 0.99 between the two means)."""
    torch.manual_seed(0)
    enc = MultimodalEncoder(BEiT3Config.tiny()).eval()
    frames = torch.rand(4, 3, 128, 128) * 255
    pad = torch.zeros(5, dtype=torch.bool)
    with torch.no_grad():
        a = enc.encode(frames, torch.tensor([0, 10, 11, 12, 2]), pad)
        b = enc.encode(frames, torch.tensor([0, 20, 21, 22, 2]), pad)
    mean_a, mean_b = (t.tokens[:, t.num_vision_tokens:].mean(1) for t in (a, b))
    assert torch.nn.functional.cosine_similarity(mean_a, mean_b, dim=-1).mean() < 0.9
