"""ExpressionTokenizer and train_sentencepiece on a small corpus trained here."""
from __future__ import annotations

import itertools

import pytest
import sentencepiece as spm
import torch

from derrvos_core.errors import InputError
from derrvos_core.multimodal import BEiT3Config, ExpressionTokenizer, train_sentencepiece

COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black"]
SHAPES = ["circle", "square", "triangle", "star", "hexagon", "diamond"]
ACTIONS = ["moving left", "moving right", "standing still", "turning around", "leaving the scene",
           "entering from the top", "that stops first", "behind the other one"]


def corpus() -> list[str]:
    sizes = ["big", "small", "tiny"]
    return [f"the {s} {c} {h} {a}" for s, c, h, a in itertools.product(sizes, COLOURS, SHAPES, ACTIONS)][::3]


@pytest.fixture(scope="module")
def spm_path(tmp_path_factory):
    sentences = corpus()
    assert len(sentences) > 300
    return train_sentencepiece(sentences, tmp_path_factory.mktemp("spm") / "expressions", vocab_size=200)


def test_trained_model_keeps_frequent_words_whole(spm_path):
    tok = ExpressionTokenizer(spm_path, max_length=16)
    assert tok.tokenize("the red circle moving left") == ["▁the", "▁red", "▁circle", "▁moving", "▁left"]
    assert tok.vocab_size <= 200 + 2  # pieces + <pad> + <mask>
    assert tok.vocab_size <= BEiT3Config.tiny().vocab_size


def test_ids_follow_the_xlmr_fairseq_convention(spm_path):
    tok = ExpressionTokenizer(spm_path, max_length=16)
    text = "the small purple hexagon turning around"
    ids, padding, truncated = tok.encode(text)
    sp = spm.SentencePieceProcessor(model_file=str(spm_path))
    pieces = [i + 1 if i > 0 else 3 for i in sp.encode(text)]  # spm unk 0 -> 3, others shift by 1
    expected = [0] + pieces + [2]
    assert ids.dtype == torch.long and padding.dtype == torch.bool
    assert ids.shape == padding.shape == (16,)
    assert ids[: len(expected)].tolist() == expected
    assert ids[len(expected):].tolist() == [1] * (16 - len(expected))
    assert padding.tolist() == [False] * len(expected) + [True] * (16 - len(expected))
    assert not truncated
    assert tok.decode(ids) == text


def test_unknown_words_map_to_unk(spm_path):
    ids, _, _ = ExpressionTokenizer(spm_path, max_length=16).encode("the жж circle")  # a letter never seen in training
    assert 3 in ids.tolist()


def test_long_expression_is_truncated_and_flagged(spm_path):
    tok = ExpressionTokenizer(spm_path, max_length=8)
    ids, padding, truncated = tok.encode("the big red circle moving left behind the other one")
    assert truncated
    assert ids.shape == (8,) and not padding.any()
    assert ids[0] == 0 and ids[-1] == 2


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_expression_is_an_input_error(spm_path, text):
    with pytest.raises(InputError, match="empty"):
        ExpressionTokenizer(spm_path).encode(text)


def test_missing_model_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        ExpressionTokenizer(tmp_path / "nope.spm")


def test_training_needs_sentences(tmp_path):
    with pytest.raises(InputError):
        train_sentencepiece(["", "  "], tmp_path / "x", vocab_size=50)
