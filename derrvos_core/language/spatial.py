"""Places in the frame and size or depth rankings: "on the far left", "the second car from the right",
"the biggest bird", "closest to the camera". Relations to other objects are read in related.py."""
from __future__ import annotations

from derrvos_core.language.lexicon import FRAME_NOUNS, ORDINALS
from derrvos_core.language.query import SpatialRelation

#: Word -> (kind, rank): rank 1 for extremes ("leftmost"), None for a preference ("left").
PLACE_WORDS: dict[str, tuple[str, int | None]] = {
    "left": ("left", None), "leftmost": ("left", 1), "right": ("right", None), "rightmost": ("right", 1),
    "top": ("top", None), "upper": ("top", None), "topmost": ("top", 1), "uppermost": ("top", 1),
    "bottom": ("bottom", None), "lower": ("bottom", None), "bottommost": ("bottom", 1),
    "lowest": ("bottom", 1), "highest": ("top", 1),
    "middle": ("middle", None), "center": ("middle", None), "centre": ("middle", None),
    "central": ("middle", None), "midst": ("middle", None),
    "foreground": ("near", None), "front": ("near", None), "nearest": ("near", 1), "closest": ("near", 1),
    "near": ("near", None), "close": ("near", None), "nearer": ("near", None), "closer": ("near", None),
    "background": ("far", None), "back": ("far", None), "farthest": ("far", 1), "furthest": ("far", 1),
    "distant": ("far", None), "rear": ("far", None),
}
SIZE_WORDS: dict[str, tuple[str, int | None]] = {
    "biggest": ("biggest", 1), "largest": ("biggest", 1), "big": ("biggest", None),
    "large": ("biggest", None), "huge": ("biggest", None), "bigger": ("biggest", None),
    "larger": ("biggest", None), "giant": ("biggest", None), "smallest": ("smallest", 1),
    "tiniest": ("smallest", 1), "small": ("smallest", None), "little": ("smallest", None),
    "tiny": ("smallest", None), "smaller": ("smallest", None), "tallest": ("tallest", 1),
    "tall": ("tallest", None), "taller": ("tallest", None), "shortest": ("shortest", 1),
    "short": ("shortest", None), "shorter": ("shortest", None),
}
#: Words that make a place an extreme: "far left", "extreme right", "very top".
EXTREME_WORDS = {"far", "extreme", "very", "most", "furthest", "farthest"}
_SIDES = {"left", "right", "top", "bottom"}
#: Place words an extreme word can sharpen: the sides and the noun-like depths ("the far background").
_EXTREMABLE = _SIDES | {"background", "foreground", "front", "back", "rear", "middle", "center", "centre"}
_ORDINAL_NAMES = {rank: word for word, rank in ORDINALS.items() if word.isalpha()}


def read_spatial(doc, target_head, used: set[int]) -> tuple[SpatialRelation, ...]:
    """Every place or size word not already read as motion or as a relation to another object."""
    found: list[SpatialRelation] = []
    for token in doc:
        if token.i in used or token.i == getattr(target_head, "i", -1):
            continue
        relation = _size(token, used) or _place(token, target_head, used)
        if relation is not None and relation not in found:
            found.append(relation)
    return tuple(found)


def _size(token, used: set[int]) -> SpatialRelation | None:
    if token.lower_ not in SIZE_WORDS or token.pos_ not in {"ADJ", "ADV"}:
        return None
    kind, rank = SIZE_WORDS[token.lower_]
    if rank is not None:
        rank = _ordinal(token, target=None, used=used) or rank
    used.add(token.i)
    return SpatialRelation(kind, rank, token.text)


def _place(token, target_head, used: set[int]) -> SpatialRelation | None:
    text = token.lower_
    if text not in PLACE_WORDS or _names_another_object(token):
        return None
    if text in {"near", "close", "closer", "nearer"} and not _about_camera(token):
        return None  # "near the car" is a relation to the car
    if text in {"front", "back"} and not _is_noun_like(token):
        return None
    kind, rank = PLACE_WORDS[text]
    first = _extreme(token) or token
    if first is not token:
        rank = 1
    phrase = token.doc[first.i:token.i + 1].text
    ordinal = _ordinal_from(token, target_head, used)
    if ordinal is not None:
        rank, phrase = ordinal, f"{_ORDINAL_NAMES.get(ordinal, str(ordinal))} from the {text}"
    used.update({first.i, token.i} | {t.i for t in _camera_phrase(token)} | _frame_part(token))
    if token.head.lower_ in {"on", "at", "in", "to", "from", "towards"}:
        used.add(token.head.i)
    return SpatialRelation(kind, rank, phrase)


def _extreme(token):
    """"far"/"extreme" just before a side or depth word ("on the far left", "in the far background")."""
    before = token.doc[token.i - 1] if token.i > 0 else None
    if token.lower_ in _EXTREMABLE and before is not None and before.lower_ in EXTREME_WORDS:
        return before
    return None


def _ordinal_from(token, target_head, used: set[int]) -> int | None:
    """2 for "the second car from the right" / "second from the left"."""
    if token.lower_ not in _SIDES or token.head.lower_ != "from":
        return None
    return _ordinal(token.head.head, target_head, used)


def _ordinal(word, target, used: set[int]) -> int | None:
    """An ordinal modifying `word` (or the target), or the word itself being one."""
    candidates = [word] + list(word.children) + (list(target.children) if target is not None else [])
    candidates.append(word.doc[word.i - 1] if word.i > 0 else word)
    for candidate in candidates:
        if candidate.lower_ in ORDINALS and candidate.i not in used:
            used.add(candidate.i)
            return ORDINALS[candidate.lower_]
    return None


def _frame_part(token) -> set[int]:
    """"the right side of the screen": the side, its "of the screen" and the "on" before it."""
    noun = token.head
    if token.dep_ not in {"amod", "compound", "nmod"} or noun.lemma_.lower() not in FRAME_NOUNS:
        return set()
    found = {t.i for t in noun.subtree if t.lemma_.lower() in FRAME_NOUNS or t.dep_ in {"det", "prep"}}
    if noun.head.pos_ == "ADP":
        found.add(noun.head.i)
    return found


def _names_another_object(token) -> bool:
    """"to the left of the car" places the target by another object (related.py reads it)."""
    for prep in token.children:
        if prep.dep_ == "prep" and prep.lower_ == "of":
            obj = next((c for c in prep.children if c.dep_ == "pobj"), None)
            if obj is not None and obj.lemma_.lower() not in FRAME_NOUNS:
                return True
    return False


def _about_camera(token) -> bool:
    """"closest to the camera", "the near car": yes; "near the car", "close to the man": no."""
    if any(t.lower_ in {"camera", "viewer", "us", "me", "lens"} for t in token.subtree):
        return True
    return not any(c.dep_ in {"prep", "pobj"} for c in token.children)


def _camera_phrase(token) -> list:
    """"closest to the camera", "left of the frame": the frame words belong to the place."""
    tokens = []
    for prep in token.children:
        frame_only = all(t.lemma_.lower() in FRAME_NOUNS | {"the", "us", "me", "viewer", "lens"} or t == prep
                         for t in prep.subtree)
        if prep.dep_ == "prep" and prep.lower_ in {"to", "of"} and frame_only:
            tokens.extend(prep.subtree)
    return tokens


def _is_noun_like(token) -> bool:
    """"in the front" / "in front" but not "front wheel" or "back" as in "comes back"."""
    return token.pos_ in {"NOUN", "ADJ"} and token.dep_ in {"pobj", "amod", "compound", "advmod"} and \
        not any(c.dep_ == "prep" and c.lower_ == "of" for c in token.children)
