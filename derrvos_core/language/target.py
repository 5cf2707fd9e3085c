"""Which token is the target's head noun, what modifies it, and how many targets are asked for."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from derrvos_core.language.lexicon import ALL_WORDS, COUNT_WORDS, GROUP_NOUNS
from derrvos_core.language.query import TargetCount

_NOUNISH = {"NOUN", "PROPN"}
_SUBJECTS = {"nsubj", "nsubjpass"}
_COMPOUND_DEPS = {"compound", "amod", "nmod"}


@dataclass(frozen=True)
class Target:
    """The head noun token of the target (None if the expression names none) and its group."""

    #: The head noun (spaCy Token), or None ("moving to the left").
    head: object | None
    #: Other nouns joined to it by "and" ("the man and the woman").
    conjuncts: tuple[object, ...]
    #: A group noun or quantifier read through ("a group of people", "each of the horses"), or None.
    group: object | None


def find_target(doc, is_noun: Callable[[str], bool], names_class: Callable[[object], bool]) -> Target:
    """The head noun: the root noun (or its subject), else the root verb's subject, else the first noun,
    else the first word of the opening phrase that names a COCO class.

    `is_noun(word)` says whether a word is mainly a noun, for roots the tagger calls adjectives
    ("the cyclist closest to us"); `names_class(token)` whether a token names a COCO class.
    """
    head = _root_noun(doc, is_noun) or _leading_class_word(doc, names_class) or _first_chunk_noun(doc)
    group = None
    if head is not None and _is_group(head):
        member = _of_object(head)
        if member is not None:
            head, group = member, head
    conjuncts = tuple(t for t in head.conjuncts if t.pos_ in _NOUNISH) if head is not None else ()
    return Target(head, conjuncts, group)


def _is_group(token) -> bool:
    word = token.lower_
    return token.lemma_.lower() in GROUP_NOUNS or word in ALL_WORDS or word in COUNT_WORDS


def _root_noun(doc, is_noun: Callable[[str], bool]):
    for sent in doc.sents:
        root = sent.root
        if root.pos_ in _NOUNISH:
            return _subject_before(root) or root
        if _is_group(root) and _of_object(root) is not None:
            return root  # "each of the horses": find_target reads through it
        if root.pos_ in {"PRON", "NUM"} and root.lemma_.lower() == "one":
            return root
        subject = _subject_before(root)
        if subject is not None:
            return subject
        if root.pos_ == "ADJ" and any(c.dep_ == "det" for c in root.children) and is_noun(root.lower_):
            return root
    return None


def _first_chunk_noun(doc):
    chunks = [c for c in doc.noun_chunks if c.root.pos_ in _NOUNISH]
    return chunks[0].root if chunks else None


def _leading_class_word(doc, names_class: Callable[[object], bool]):
    """For parses with no noun at all ("the red fire_hydrant near the car" tagged as adjectives)."""
    for token in doc:
        if token.pos_ in {"ADP", "SCONJ", "AUX"} or token.tag_ in {"VBZ", "VBD", "VBP", "WDT", "WP"}:
            return None
        if token.pos_ not in {"DET", "PUNCT", "NUM", "CCONJ"} and token.text.replace("_", "").isalpha() \
                and names_class(token):
            return token
    return None


def _subject_before(word):
    """A noun subject left of `word` ("the man [on the right riding] a horse": the tagger's root is horse)."""
    for child in word.children:
        if child.dep_ in _SUBJECTS and child.i < word.i and child.pos_ in _NOUNISH | {"PRON", "NUM"} \
                and child.lemma_.lower() not in {"who", "that", "which", "it", "what"} \
                and child.doc[child.i + 1].lower_ != "-":  # not the "e" of "e-bike"
            return child
    return None


def _of_object(noun):
    for prep in noun.children:
        if prep.dep_ == "prep" and prep.lower_ == "of":
            for obj in prep.children:
                if obj.dep_ == "pobj" and obj.pos_ in _NOUNISH:
                    return obj
    return None


def modifier_text(head) -> str:
    """The compound or adjective right before the head ("fire" in "fire hydrant", "potted" plant)."""
    before = head.doc[head.i - 1] if head.i > 0 else None
    if before is not None and before.head == head and before.dep_ in _COMPOUND_DEPS:
        return before.lower_
    return ""


def read_count(doc, target: Target, used: set[int]) -> TargetCount:
    """one / exact n / several / all, from numbers, quantifiers, conjunctions and plural nouns."""
    if target.head is None:
        return _count_without_noun(doc, used)
    if target.conjuncts:
        return TargetCount("exact", 1 + len(target.conjuncts))
    words = list(target.head.children) + (list(target.group.children) if target.group is not None else [])
    for word in words:
        count = _count_word(word)
        if count is not None:
            used.add(word.i)
            return count
    if target.group is not None:
        used.add(target.group.i)
        word = target.group.lower_
        return _group_count(word if word in ALL_WORDS or word in COUNT_WORDS else target.group.lemma_.lower())
    plural = target.head.tag_ in {"NNS", "NNPS"} or target.head.lemma_.lower() == "people"
    if plural and target.head.lower_ == target.head.lemma_.lower() != "people":
        plural = _plural_verbs(doc)  # "sheep", "deer": the noun does not say, the verb may
    return TargetCount("several", None) if plural else TargetCount("one", 1)


def _plural_verbs(doc) -> bool:
    """A verb in the plural ("are", "were", "walk") and none in the singular ("is", "walks")."""
    singular = any(t.tag_ == "VBZ" or t.lower_ in {"was", "is", "has", "'s"} for t in doc)
    plural = any(t.tag_ == "VBP" or t.lower_ in {"were", "are", "have"} for t in doc)
    return plural and not singular


def _count_word(word) -> TargetCount | None:
    text = word.lower_
    if word.dep_ in {"det", "predet", "amod", "nummod", "quantmod"} and text in ALL_WORDS:
        return TargetCount("all", None)
    if word.dep_ == "nummod" and text.isdigit():
        return TargetCount("exact", int(text))
    if text in COUNT_WORDS and word.dep_ in {"nummod", "det", "amod", "quantmod", "predet"}:
        n = COUNT_WORDS[text]
        return TargetCount("several", None) if n is None else TargetCount("exact", n)
    return None


def _group_count(lemma: str) -> TargetCount:
    if lemma in ALL_WORDS:
        return TargetCount("all", None)
    n = COUNT_WORDS[lemma] if lemma in COUNT_WORDS else GROUP_NOUNS.get(lemma)
    return TargetCount("several", None) if n is None else TargetCount("exact", n)


def _count_without_noun(doc, used: set[int]) -> TargetCount:
    """"the two on the left", "all moving to the right": a number or quantifier standing alone."""
    for token in doc:
        if token.lower_ in ALL_WORDS and token.dep_ in {"det", "predet", "nsubj", "ROOT", "dobj"}:
            used.add(token.i)
            return TargetCount("all", None)
        if token.pos_ == "NUM" and token.lower_ in COUNT_WORDS and COUNT_WORDS[token.lower_] not in (None, 1):
            used.add(token.i)
            return TargetCount("exact", COUNT_WORDS[token.lower_])
    return TargetCount("one", 1)
