"""Colour words in a parsed expression: which noun each describes, whether a part of the target
("the man in the pink jacket"), the target itself ("the red car") or another object."""
from __future__ import annotations

from dataclasses import dataclass

from derrvos_core.language.colours import SHADES, colour_term, shaded
from derrvos_core.language.query import ColourMention

_MODIFIER_DEPS = {"amod", "compound", "nmod", "advmod", "npadvmod", "appos"}
_LINK_WORDS = {"in", "with", "wearing", "wear", "dressed", "dress", "has", "have", "having", "of"}
_NEGATIONS = {"not", "n't", "never", "no"}


@dataclass(frozen=True)
class ColourReading:
    """Colours of the target, and of other objects by the index of their head noun."""

    target: tuple[ColourMention, ...]
    others: dict[int, tuple[ColourMention, ...]]
    #: Phrases under a negation ("not red").
    negated: tuple[str, ...]


def read_colours(doc, target_heads: set[int], senses, used: set[int]) -> ColourReading:
    """Every colour word, attached to the noun it describes; `used` gains the tokens understood."""
    mine: list[ColourMention] = []
    others: dict[int, list[ColourMention]] = {}
    negated: list[str] = []
    for token in doc:
        if not _is_colour(token, target_heads):
            continue
        noun = _described_noun(token)
        mention, owner = _mention(token, noun, target_heads, senses, used)
        if mention.negated:
            negation = _negation_of(token)
            negated.append(doc[min(negation.i, token.i):max(negation.i, token.i) + 1].text)
            used.add(negation.i)
        if owner is None:
            mine.append(mention)
        else:
            others.setdefault(owner, []).append(mention)
    return ColourReading(tuple(mine), {k: tuple(v) for k, v in others.items()}, tuple(negated))


def _is_colour(token, target_heads: set[int]) -> bool:
    term = colour_term(token.lower_)
    if term is None or token.i in target_heads:
        return False  # "the orange" is the fruit
    if term.hue_matters:
        return True
    # A shade word alone ("the dark car"), not one on a colour ("dark blue") nor a noun ("traffic light").
    following = _next_word(token)
    return token.pos_ in {"ADJ", "ADV"} and (following is None or not _is_hue(following))


def _next_word(token):
    doc = token.doc
    i = token.i + 1
    if i < len(doc) and doc[i].lower_ == "-":
        i += 1
    return doc[i] if i < len(doc) else None


def _is_hue(token) -> bool:
    term = colour_term(token.lower_)
    return term is not None and term.hue_matters


def _described_noun(token):
    """The noun a colour word describes; None when it describes whatever the target wears ("in red")."""
    word = token
    while word.dep_ == "conj" and colour_term(word.head.lower_) is not None:
        word = word.head  # "black and white dog": white -> black -> dog
    if word.dep_ in _MODIFIER_DEPS and word.head.pos_ in {"NOUN", "PROPN", "PRON", "NUM"}:
        return word.head
    if word.dep_ in {"acomp", "attr", "oprd"}:
        return _subject_of(word.head)
    if word.dep_ in {"pobj", "dobj"} and word.head.head.pos_ in {"NOUN", "PROPN"}:
        return word.head.head if word.head.lower_ not in {"in", "with"} else None
    return None


def _subject_of(verb):
    if verb.dep_ == "relcl":
        return verb.head
    for child in verb.children:
        if child.dep_ in {"nsubj", "nsubjpass"}:
            return child
    return None


def _mention(token, noun, target_heads, senses, used) -> tuple[ColourMention, int | None]:
    """The mention, and the index of the other object it belongs to (None: the target)."""
    term = colour_term(token.lower_)
    shade_token = _shade_of(token)
    lab = shaded(term.lab, SHADES[shade_token.lower_]) if shade_token is not None and term.hue_matters \
        else term.lab
    shade = SHADES[shade_token.lower_] if shade_token is not None else None
    used.update([token.i] + ([shade_token.i] if shade_token is not None else []))
    part, region, owner = None, "whole", None
    if noun is not None and noun.i not in target_heads:
        region = senses.part_region(noun.lower_) or senses.part_region(noun.lemma_.lower())
        if region is not None:
            part = noun.lower_
            used.update(_part_tokens(noun))
        else:
            region, owner = "whole", noun.i
    negated = _negation_of(token) is not None
    return ColourMention(token.lower_, term.name, lab, term.hue_matters, shade, part, region, negated), owner


def _shade_of(token):
    """The shade word right before a colour ("dark blue", "light-blue"), None if none."""
    doc = token.doc
    i = token.i - 1
    if i >= 1 and doc[i].lower_ == "-":
        i -= 1
    return doc[i] if i >= 0 and doc[i].lower_ in SHADES else None


def _part_tokens(noun) -> list[int]:
    """The part noun, its determiner and the word linking it to the target ("in", "wearing")."""
    tokens = [noun.i] + [c.i for c in noun.children if c.dep_ in {"det", "poss"}]
    link = noun.head
    if link.lower_ in _LINK_WORDS or link.lemma_.lower() in _LINK_WORDS:
        tokens.append(link.i)
    return tokens


def _negation_of(token):
    """The negation word over a colour ("not red", "the car that is not red"), None if none."""
    governors = [token, token.head] if token.dep_ in {"acomp", "attr"} else [token]
    for governor in governors:
        for child in governor.children:
            if child.lower_ in _NEGATIONS and child.dep_ in {"neg", "advmod", "det"}:
                return child
    return None
