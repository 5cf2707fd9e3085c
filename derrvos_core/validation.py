"""Checks of values that come from people and files: one function per kind of value, used at every edge.

Each returns the value as the rest of the code takes it, or raises InputError saying what is wrong and
what to do, so the CLI, the Python API, the app and the store refuse the same things with the same
words, before any model or store work. Kinds: expression text (`expression_text`), names the store
keeps (`stored_name`, `user_name`), settings (`threshold_value`, `crop_size_value`), names that become
paths (`path_component`), model scores (`finite_scores`) and model config fields (`config_fields`).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import typing
import unicodedata
from collections.abc import Iterable

from derrvos_core.errors import InputError, ModelError

#: Longest expression accepted; a referring expression is a sentence (the model reads 32-64 ids of it).
MAX_EXPRESSION_CHARS = 1000
#: Longest user name, model name and model version: the store's String(200) columns hold no more.
MAX_NAME_CHARS = 200
#: Most frames per inference crop; the memory a crop takes is bounded separately by bytes
#: (`derrvos_core.model.frames.MAX_CROP_BYTES`), this keeps the stored value a 32-bit integer.
MAX_CROP_SIZE = 100_000
#: Pixels per frame a video reader accepts by default (4K UHD, 3840 x 2160), and the largest mask a
#: dataset file may declare: any phone or camera video opens, while an 8192 x 8192 file, which would
#: need 6.75 GiB per 36-frame crop, is refused with a clear message before anything is decoded.
DEFAULT_MAX_PIXELS = 3840 * 2160
#: Integer config fields named like these are depths (modules are built per unit: bounded tightly).
_DEPTH_WORDS = ("layers", "depths")
#: Most layers of one part, heads of one attention, and the bound on any other size in a config.
MAX_CONFIG_LAYERS = 64
MAX_CONFIG_HEADS = 256
MAX_CONFIG_SIZE = 1 << 20


def check_text(value, what: str, *, max_chars: int) -> str:
    """`value` if it is a str a database can hold: valid Unicode (no lone surrogate), no NUL, at most
    `max_chars` characters. `what` names it in the message ("the expression", "the user name")."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be text, got {type(value).__name__}")
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            raise InputError(f"{what} is not valid Unicode: a lone surrogate (U+{ord(char):04X}) at "
                             f"character {index + 1}; retype it (a copy from a broken source leaves these)")
    nul = value.find("\x00")
    if nul >= 0:
        raise InputError(f"{what} contains a NUL character (at character {nul + 1}), which the store "
                         f"cannot hold; remove it")
    if len(value) > max_chars:
        raise InputError(f"{what} is {len(value)} characters long; at most {max_chars} are accepted")
    return value


def has_visible(text: str) -> bool:
    """Whether any character is something a reader sees (not a space, control or zero-width format mark)."""
    return any(unicodedata.category(c) not in ("Zs", "Zl", "Zp", "Cc", "Cf") for c in text)


def expression_text(text) -> str:
    """The expression, unchanged, or InputError: not text, empty, only invisible characters (zero-width
    spaces, joiners, BOMs, controls), NUL, lone surrogates, or over MAX_EXPRESSION_CHARS."""
    if isinstance(text, str) and not text.strip():
        raise InputError("the expression is empty; type what to segment, e.g. 'the red car turning left'")
    check_text(text, "the expression", max_chars=MAX_EXPRESSION_CHARS)
    if not has_visible(text):
        raise InputError("the expression has no visible characters (only zero-width, control or space "
                         "characters); type what to segment, e.g. 'the red car turning left'")
    return text


def stored_name(value, what: str, *, max_chars: int = MAX_NAME_CHARS, empty_ok: bool = False) -> str:
    """A name the store keeps in a bounded column (model name and version, device, format)."""
    check_text(value, what, max_chars=max_chars)
    if not empty_ok and not value.strip():
        raise InputError(f"{what} is empty")
    return value


def user_name(value) -> str:
    """The name a correction is saved under: non-empty visible text of at most MAX_NAME_CHARS."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"a correction needs a user name, got {value!r}")
    check_text(value, "the user name", max_chars=MAX_NAME_CHARS)
    if not has_visible(value):
        raise InputError("the user name has no visible characters")
    return value


def path_component(value, what: str) -> str:
    """A name that is joined to a folder (a dataset's video id or frame name) and must stay in it:
    one component, not ".." nor absolute, no separator, no NUL."""
    check_text(value, what, max_chars=1000)
    if not value or value in (".", "..") or "/" in value or "\\" in value or value[1:2] == ":":
        raise InputError(f"{what} {value!r} is not a plain name: it would lead outside its folder")
    return value


def _real_number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what} must be a number, got {_short(value)} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{what} must be a finite number, got {value!r}")
    return number


def threshold_value(value, what: str = "threshold") -> float:
    """A confidence threshold as a float in [0, 1]: real numbers only (no str, bool, complex, NaN)."""
    number = _real_number(value, what)
    if not 0.0 <= number <= 1.0:
        raise InputError(f"{what} must be in [0, 1], got {_short(value)}")
    return number


def crop_size_value(value) -> int:
    """Frames per crop as an int in 1..MAX_CROP_SIZE: whole numbers only (an integral float such as
    36.0 from a number box is taken; bools, strings, 1e308 and fractions are not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"crop size must be a whole number of frames >= 1, got {_short(value)}")
    if isinstance(value, numbers.Integral):
        size = int(value)
    else:
        number = float(value)
        if not (math.isfinite(number) and number.is_integer()):
            raise InputError(f"crop size must be a whole number of frames >= 1, got {_short(value)}")
        size = int(number)
    if not 1 <= size <= MAX_CROP_SIZE:
        raise InputError(f"crop size must be a whole number of frames in 1..{MAX_CROP_SIZE}, "
                         f"got {_short(value)}")
    return size


def _short(value, limit: int = 40) -> str:
    """repr of a value for a message, cut so that 10**308 or a pasted novel stays readable."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 12]}...({len(text)} chars)"


def finite_scores(scores: Iterable, where: str = "the model") -> None:
    """ModelError when any trajectory score is NaN or infinite (broken weights): such a result must
    reach neither the store nor a scores.json. `scores` are floats in trajectory order."""
    for index, score in enumerate(scores):
        if not math.isfinite(float(score)):
            raise ModelError(f"{where} gave trajectory {index} the score {float(score)}: its weights or "
                             f"inputs are broken (not finite numbers); such a result is neither saved nor "
                             f"written")


def config_fields(config_type: type, data, where: str) -> None:
    """InputError naming the field when the JSON `data` that a (nested, frozen-dataclass) `config_type`
    is to be built from holds a value no model should be built from: a bool, float or text where a size
    is expected, a size < 0 or > MAX_CONFIG_SIZE, more than MAX_CONFIG_LAYERS layers or MAX_CONFIG_HEADS
    heads, a non-finite float. Runs before the config (and so the model) is built; unknown keys are left
    to the config's `from_dict`, which names them. Heads that must divide a width: `check_heads`."""
    if not isinstance(data, dict):
        raise InputError(f"{where} must be a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(config_type)
    for f in dataclasses.fields(config_type):
        if f.name in data:
            _check_field(hints[f.name], data[f.name], f"{where}.{f.name}")


def _check_field(hint, value, path: str) -> None:
    if dataclasses.is_dataclass(hint):
        config_fields(hint, value, path)
    elif typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)) or len(value) > MAX_CONFIG_LAYERS:
            raise InputError(f"{path} must be a list of at most {MAX_CONFIG_LAYERS} values, "
                             f"got {_short(value)}")
        for i, item in enumerate(value):
            _check_field(typing.get_args(hint)[0], item, f"{path}[{i}]")
    elif hint is bool:
        if not isinstance(value, bool):
            raise InputError(f"{path} must be true or false, got {_short(value)}")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{path} must be a whole number, got {_short(value)}")
        name = path.rsplit(".", 1)[-1].split("[", 1)[0]
        limit = (MAX_CONFIG_LAYERS if any(w in name for w in _DEPTH_WORDS) else
                 MAX_CONFIG_HEADS if "heads" in name else MAX_CONFIG_SIZE)
        if not 0 <= value <= limit:
            raise InputError(f"{path} must be in 0..{limit}, got {_short(value)}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"{path} must be a finite number, got {_short(value)}")
    elif hint is str:
        check_text(value, path, max_chars=MAX_NAME_CHARS)


def check_heads(config, where: str) -> None:
    """InputError when a built config's `num_heads` does not divide the width beside it."""
    for path, node in _nodes(config, where):
        _check_heads(path, node)


def _check_heads(path: str, node) -> None:
    """Each `num_heads` divides the width beside it (`embed_dim`, `hidden_dim` or `width`); a part whose
    width is set elsewhere (the tracker and refiner read the segmenter's 2 x hidden_dim) is checked by
    its caller with `heads_divide`."""
    names = {f.name for f in dataclasses.fields(node)}
    if "num_heads" not in names or not isinstance(node.num_heads, int):
        return
    heads = node.num_heads
    if heads < 1:
        raise InputError(f"{path}.num_heads must be >= 1, got {heads}")
    for width_name in ("embed_dim", "hidden_dim", "width"):
        if width_name in names:
            width = getattr(node, width_name)
            if isinstance(width, int) and width % heads:
                raise InputError(f"{path}.num_heads {heads} does not divide {path}.{width_name} {width}; "
                                 f"choose a head count that divides it")


def heads_divide(width: int, heads, path: str) -> None:
    """InputError unless `heads` (a config's num_heads) divides `width` (the width its attention splits)."""
    if isinstance(heads, int) and not isinstance(heads, bool) and heads >= 1 and width % heads:
        raise InputError(f"{path} {heads} does not divide the width {width} it splits; choose a head "
                         f"count that divides it")


def _nodes(node, path: str):
    yield path, node
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            yield from _nodes(value, f"{path}.{f.name}")
