"""Colour words: a palette of basic colour terms with reference values in CIE Lab, and sRGB -> Lab.

Reference colours are the centroids of the xkcd colour-naming survey (the hex values matplotlib
ships as `XKCD_COLORS`): what people call "red" on a screen, not a saturated primary. Lab is CIE
1976 L*a*b* under D65 with sRGB primaries, so a Euclidean distance in it (delta E 76) is roughly
perceptual: about 2.3 is a just-noticeable difference, 20-40 separates neighbouring colour names.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derrvos_core.errors import InputError

#: Basic colour terms, each with its reference sRGB colour.
PALETTE_HEX: dict[str, str] = {
    "black": "#000000", "white": "#ffffff", "grey": "#929591", "red": "#e50000", "orange": "#f97306",
    "yellow": "#ffff14", "green": "#15b01a", "blue": "#0343df", "purple": "#7e1e9c", "pink": "#ff81c0",
    "brown": "#653700", "beige": "#e6daa6", "cyan": "#00ffff",
}

#: Other colour words: (the basic term they belong to, the survey colour name they take, its sRGB).
SYNONYM_HEX: dict[str, tuple[str, str, str]] = {
    "gray": ("grey", "grey", "#929591"), "silver": ("grey", "silver", "#c5c9c7"),
    "gold": ("yellow", "gold", "#dbb40c"), "golden": ("yellow", "golden", "#f5bf03"),
    "blond": ("beige", "sandy", "#f1da7a"), "blonde": ("beige", "sandy", "#f1da7a"),
    "navy": ("blue", "navy", "#01153e"), "maroon": ("red", "maroon", "#650021"),
    "burgundy": ("red", "burgundy", "#610023"), "crimson": ("red", "crimson", "#8c000f"),
    "scarlet": ("red", "scarlet", "#be0119"), "tan": ("beige", "tan", "#d1b26f"),
    "khaki": ("beige", "khaki", "#aaa662"), "cream": ("beige", "cream", "#ffffc2"),
    "teal": ("cyan", "teal", "#029386"), "turquoise": ("cyan", "turquoise", "#06c2ac"),
    "violet": ("purple", "violet", "#9a0eea"), "lilac": ("purple", "lilac", "#cea2fd"),
    "lavender": ("purple", "lavender", "#c79fef"), "magenta": ("pink", "magenta", "#c20078"),
    "olive": ("green", "olive", "#6e750e"), "lime": ("green", "lime", "#aaff32"),
    "ginger": ("orange", "rust orange", "#c45508"), "brunette": ("brown", "brown", "#653700"),
}

#: Lightness words; alone ("the dark car") they constrain L* only.
SHADES: dict[str, str] = {"dark": "dark", "deep": "dark", "light": "light", "pale": "light"}
#: L* a shade word alone refers to (hue unconstrained).
SHADE_LIGHTNESS: dict[str, float] = {"dark": 20.0, "light": 85.0}

_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


@dataclass(frozen=True)
class ColourTerm:
    """What one colour word means."""

    #: The basic term ("navy" -> "blue"; a shade word alone -> "dark" / "light").
    name: str
    #: Reference colour, (L*, a*, b*).
    lab: tuple[float, float, float]
    #: False for a shade word alone: compare L* only.
    hue_matters: bool = True


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB in 0..255 (uint8 or float) -> (..., 3) float32 CIE L*a*b* (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array([[0.4124564, 0.3575761, 0.1804375],
                       [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
    t = (linear @ to_xyz.T) / _WHITE_D65
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)
    return lab.astype(np.float32)


def hex_to_lab(code: str) -> tuple[float, float, float]:
    """"#rrggbb" -> (L*, a*, b*) rounded to 0.01."""
    if len(code) != 7 or code[0] != "#":
        raise InputError(f"expected a colour as #rrggbb, got {code!r}")
    rgb = np.array([int(code[i:i + 2], 16) for i in (1, 3, 5)])
    return tuple(round(float(v), 2) for v in srgb_to_lab(rgb))


def colour_term(word: str) -> ColourTerm | None:
    """The colour a word names ("grey", "gray", "navy", "dark"), or None if it names none."""
    word = word.lower()
    if word in PALETTE_HEX:
        return ColourTerm(word, hex_to_lab(PALETTE_HEX[word]))
    if word in SYNONYM_HEX:
        name, _, code = SYNONYM_HEX[word]
        return ColourTerm(name, hex_to_lab(code))
    if word in SHADES:
        shade = SHADES[word]
        return ColourTerm(shade, (SHADE_LIGHTNESS[shade], 0.0, 0.0), hue_matters=False)
    return None


def shaded(lab: tuple[float, float, float], shade: str) -> tuple[float, float, float]:
    """A colour made darker ("dark blue": L* x 0.6) or lighter ("light blue": halfway to white, less chroma)."""
    lightness, a, b = lab
    if shade == "dark":
        return (round(lightness * 0.6, 2), round(a * 0.8, 2), round(b * 0.8, 2))
    if shade == "light":
        return (round(lightness + (100 - lightness) * 0.5, 2), round(a * 0.6, 2), round(b * 0.6, 2))
    raise InputError(f"shade must be 'dark' or 'light', got {shade!r}")
