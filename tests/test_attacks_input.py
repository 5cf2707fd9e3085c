"""Attacks with typed input: expressions, settings, names (issue 19, item 5). Each is a clear InputError."""
from __future__ import annotations

import numpy as np
import pytest

from derrvos_core.errors import InputError, ModelError
from derrvos_core.settings import ModelDefaults, SegmentSettings
from derrvos_core.validation import (MAX_CROP_SIZE, MAX_EXPRESSION_CHARS, crop_size_value, expression_text,
                                     finite_scores, path_component, stored_name, threshold_value, user_name)

DEFAULTS = ModelDefaults(crop_size=36, threshold=0.7)


@pytest.fixture(scope="module")
def model():
    from derrvos_core.model import load_model

    return load_model("synthref")


BAD_EXPRESSIONS = [
    ("the \ud800 car", "lone surrogate"),
    ("\udfff", "lone surrogate"),
    ("\u200b\u200b\u200b", "no visible characters"),
    ("\u200d\ufeff\u2060", "no visible characters"),
    ("\x00", "NUL"),
    ("\x00\x00\x00", "NUL"),
    ("the car\x00", "NUL"),
    ("", "empty"),
    (" \t\n", "empty"),
    ("x" * (MAX_EXPRESSION_CHARS + 1), "characters long"),
    (b"the car", "must be text"),
    (None, "must be text"),
]


@pytest.mark.parametrize("text, message", BAD_EXPRESSIONS)
def test_bad_expressions_are_input_errors(text, message):
    with pytest.raises(InputError, match=message):
        expression_text(text)


@pytest.mark.parametrize("text, message", BAD_EXPRESSIONS[:7])
def test_the_beit3_branch_refuses_them_before_tokenising(model, text, message):
    with pytest.raises(InputError, match=message):
        model.multimodal.read(text)
    with pytest.raises(InputError, match=message):  # and so does a whole run, at the call
        model.segment_iter(np.zeros((2, 32, 32, 3), np.uint8), text)


def test_ordinary_expressions_pass_unchanged(model):
    for text in ("the brown horse", "日本語の車", "l'homme à gauche", "car 🚗", "a\u200bb"):
        assert expression_text(text) == text
        assert model.multimodal.read(text).text


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": "abc"}, "threshold must be a number"),
    ({"threshold": "0.5"}, "threshold must be a number"),
    ({"threshold": 1j}, "threshold must be a number"),
    ({"threshold": float("nan")}, "finite"),
    ({"threshold": float("inf")}, "finite"),
    ({"threshold": True}, "threshold must be a number"),
    ({"threshold": 1.5}, r"\[0, 1\]"),
    ({"crop_size": 1e308}, "crop size"),
    ({"crop_size": 10**308}, r"crop size .*\.\.\.\(309 chars\)"),
    ({"crop_size": True}, "crop size"),
    ({"crop_size": False}, "crop size"),
    ({"crop_size": 2.5}, "crop size"),
    ({"crop_size": float("nan")}, "crop size"),
    ({"crop_size": "36"}, "crop size"),
    ({"crop_size": 0}, "crop size"),
    ({"crop_size": MAX_CROP_SIZE + 1}, "crop size"),
    ({"at_least_one": "yes"}, "at_least_one"),
    ({"link_crops": 2}, "link_crops"),
])
def test_bad_settings_are_refused_with_clear_messages(kwargs, message):
    with pytest.raises(InputError, match=message):
        DEFAULTS.settings(**kwargs)


def test_good_settings_are_normalised():
    settings = DEFAULTS.settings(crop_size=np.int64(12), threshold=np.float32(0.5),
                                 at_least_one=np.bool_(True))
    assert settings == SegmentSettings(crop_size=12, threshold=0.5, at_least_one=True)
    assert type(settings.crop_size) is int and type(settings.threshold) is float
    assert DEFAULTS.settings(crop_size=36.0).crop_size == 36  # a number box's float
    with pytest.raises(InputError, match="threshold"):
        settings.with_threshold("high")
    assert crop_size_value(1) == 1 and threshold_value(0) == 0.0


@pytest.mark.parametrize("name, message", [
    ("", "needs a user name"), ("   ", "needs a user name"), ("ann\x00ie", "NUL"),
    ("a" * 201, "201 characters"),
    ("\u200b", "no visible"), ("\udc80x", "lone surrogate"), (7, "needs a user name"),
])
def test_bad_user_names(name, message):
    with pytest.raises(InputError, match=message):
        user_name(name)
    assert user_name("Ann-Marie O'Neil") == "Ann-Marie O'Neil"


def test_stored_names_and_path_components():
    with pytest.raises(InputError, match="201 characters"):
        stored_name("v" * 201, "the model version")
    for bad in ("..", ".", "", "../x", "/etc", "a/b", "a\\b", "C:x", "a\x00"):
        with pytest.raises(InputError):
            path_component(bad, "video id")
    assert path_component("vid-01.a", "video id") == "vid-01.a"


def test_non_finite_scores_are_a_model_error():
    finite_scores([0.0, 1.0, 0.5])
    with pytest.raises(ModelError, match="trajectory 1 the score nan"):
        finite_scores([0.2, float("nan")])
