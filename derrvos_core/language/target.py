"""Which token is the target's head noun, what modifies it, and how many targets are asked for."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from derrvos_core.language.lexicon import ALL_WORDS, COUNT_WORDS, GROUP_NOUNS, PEOPLE_GROUPS
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


def find_target(doc, is_noun: Callable[[str], bool], names_class: Callable[[object], bool],
                is_part: Callable[[object], bool]) -> Target:
    """The head noun: the root noun (or its subject), else the root verb's subject, else the first noun,
    else the first word of the opening phrase that names a COCO class.

    `is_noun(word)` says whether a word is mainly a noun, for roots the tagger calls adjectives
    ("the cyclist closest to us"); `names_class(token)` whether a token names a COCO class;
    `is_part(token)` whether it names a garment or part an object has ("helmet").
    """
    head = _root_noun(doc, is_noun) or _leading_class_word(doc, names_class) or _first_chunk_noun(doc)
    group = None
    if head is not None and _is_group(head):
        member = _of_object(head)
        if member is not None:
            head, group = member, head
    conjuncts = () if head is None else tuple(
        t for t in head.conjuncts if t.pos_ in _NOUNISH and not _joins_a_modifier(head, t, is_part))
    return Target(head, conjuncts, group)


def _joins_a_modifier(head, conjunct, is_part: Callable[[object], bool]) -> bool:
    """"the man in the black shirt and white helmet": the tagger may join "helmet" to "man", but a part
    after one of the head's prepositional phrases continues that phrase; it is no second target."""
    return conjunct.i > head.i and is_part(conjunct) and \
        any(c.dep_ == "prep" and head.i < c.i < conjunct.i for c in head.children)


def _is_group(token) -> bool:
    word = token.lower_
    return token.lemma_.lower() in GROUP_NOUNS or word in ALL_WORDS or word in COUNT_WORDS


def _root_noun(doc, is_noun: Callable[[str], bool]):
    for sent in doc.sents:
        root = sent.root
        if root.pos_ in _NOUNISH:
            subject = _subject_before(root) or _gerund_compound(root)
            return root if subject is None or _is_number(subject) else subject
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


def _gerund_compound(root):
    """"the race_cars speeding" tagged as one noun phrase: the gerund is what its compound does."""
    if root.tag_ != "NN" or not root.lower_.endswith("ing"):
        return None
    return next((c for c in root.children if c.dep_ == "compound" and c.i == root.i - 1), None)


def _is_number(token) -> bool:
    """"two" in "two fire_hydrants on the left", which the tagger may make the noun's subject."""
    return token.pos_ == "NUM" and (token.lower_ in COUNT_WORDS or token.lower_.isdigit())


def _first_chunk_noun(doc):
    chunks = [c for c in doc.noun_chunks if c.root.pos_ in _NOUNISH]
    return chunks[0].root if chunks else None


def _leading_class_word(doc, names_class: Callable[[object], bool]):
    """For parses with no noun at all ("the red fire_hydrant near the car" tagged as adjectives)."""
    for token in doc:
        if token.pos_ in {"ADP", "SCONJ", "AUX"} or token.tag_ in {"VBZ", "VBD", "VBP", "WDT", "WP"}:
            return None
        if token.pos_ not in {"DET", "PUNCT", "CCONJ"} and not _is_number(token) and not token.like_num \
                and token.text.replace("_", "").isalpha() and names_class(token):
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


def read_count(doc, target: Target, used: set[int], is_plural: Callable[[object], bool | None]) -> TargetCount:
    """one / exact n / several / all, from numbers, quantifiers, conjunctions, group and plural nouns.

    `is_plural(token)` says whether a noun is plural ("men", or "geese" the tagger took for a name); None
    when its form does not say ("sheep").
    "together" / "side by side" agree with more than one target and are claimed when the count says so.
    """
    count = _read_count(doc, target, used, is_plural)
    if count.kind != "one":
        used.update(_togetherness(doc))
    return count


def _read_count(doc, target: Target, used: set[int], is_plural: Callable[[object], bool | None]) -> TargetCount:
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
    head = target.head
    lemma = head.lemma_.lower()
    plural = True if lemma == "people" else is_plural(head)
    if plural is None:
        plural = _plural_verbs(doc)  # "sheep", "deer": the noun does not say, the verb may
    if not plural and lemma in PEOPLE_GROUPS:  # "the couple walking side by side"
        n = PEOPLE_GROUPS[lemma]
        return TargetCount("several", None) if n is None else TargetCount("exact", n)
    return TargetCount("several", None) if plural else TargetCount("one", 1)


def _togetherness(doc) -> set[int]:
    """"walking together", "side by side": not "together with the dog", which relates to another object."""
    found: set[int] = set()
    words = [t.lower_ for t in doc]
    for i, word in enumerate(words):
        if word == "together" and "with" not in words[i + 1:i + 3] + [c.lower_ for c in doc[i].children]:
            found.add(i)
        elif words[i:i + 3] == ["side", "by", "side"] and words[i + 3:i + 4] != ["with"]:
            found.update((i, i + 1, i + 2))
    return found


def _plural_verbs(doc) -> bool:
    """A verb in the plural ("are", "were", "walk") and none in the singular ("is", "walks")."""
    singular = any(t.tag_ == "VBZ" or t.lower_ in {"was", "is", "has", "'s"} for t in doc)
    plural = any(t.tag_ == "VBP" or t.lower_ in {"were", "are", "have"} for t in doc)
    return plural and not singular


def _count_word(word) -> TargetCount | None:
    text = word.lower_
    if word.dep_ in {"det", "predet", "amod", "nummod", "quantmod"} and text in ALL_WORDS:
        return TargetCount("all", None)
    number_subject = word.dep_ == "nsubj" and word.i < word.head.i and _is_number(word)
    if (word.dep_ == "nummod" or number_subject) and text.isdigit():
        return TargetCount("exact", int(text))
    if text in COUNT_WORDS and (word.dep_ in {"nummod", "det", "amod", "quantmod", "predet"} or number_subject):
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
