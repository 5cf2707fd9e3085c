"""Other objects the target is related to: "holding an umbrella", "next to the red car", "riding a horse".

Only objects that name a COCO class become a `RelatedObject` (a scorer can look for their
trajectories); the rest ("under the tree") are left for `ignored`.
"""
from __future__ import annotations

from derrvos_core.language.lexicon import FRAME_NOUNS, GENERIC_NOUNS
from derrvos_core.language.query import ColourMention, RelatedObject
from derrvos_core.language.target import modifier_text

#: Words that with "of"/"to" relate the target to another object ("to the left of", "next to").
RELATION_WORDS = {"left", "right", "front", "top", "next", "close", "near", "side", "middle", "back",
                  "bottom", "behind", "beside", "ahead", "outside", "inside", "rear", "center", "centre"}
_NEGATIONS = {"not", "n't", "never", "no"}


def read_related(doc, target_heads: set[int], senses, colours: dict[int, tuple[ColourMention, ...]],
                 used: set[int]) -> tuple[RelatedObject, ...]:
    """Every noun other than the target that names a COCO class, with how it relates to the target."""
    found = []
    for noun in doc:
        if noun.pos_ not in {"NOUN", "PROPN"} or noun.i in used or noun.i in target_heads:
            continue
        lemma = senses.noun_lemma(noun).replace("_", " ")
        if lemma in FRAME_NOUNS or lemma in GENERIC_NOUNS:
            continue
        reading = senses.classify(lemma, modifier_text(noun))
        root, relation = _relation(noun, target_heads, senses)
        if not reading.classes or root is None:
            continue
        tokens = _phrase_tokens(root, noun, target_heads)
        negated = any(t.lower_ in _NEGATIONS or t.lower_ == "without" for t in tokens)
        phrase = " ".join(t.text for t in tokens).replace("_", " ")
        found.append(RelatedObject(relation, lemma, reading.classes, colours.get(noun.i, ()), phrase, negated))
        used.update(t.i for t in tokens)
    return tuple(found)


def _relation(noun, target_heads: set[int], senses):
    """(the token whose phrase holds the relation, the relation's words), or (None, "") if not related."""
    head = noun.head
    if noun.dep_ in {"dobj", "attr", "oprd"} and head.pos_ in {"VERB", "AUX"}:
        return head, senses.verb_lemma(head)
    if noun.dep_ == "conj":
        return _relation(head, target_heads, senses) if head.i not in target_heads else (None, "")
    if noun.dep_ != "pobj" or head.pos_ != "ADP":
        return None, ""
    governor = head.head
    if governor.pos_ in {"VERB", "AUX"}:
        return governor, f"{senses.verb_lemma(governor)} {head.lower_}"
    if governor.i in target_heads or (governor.pos_ in {"NOUN", "PROPN", "PRON"}
                                      and governor.lower_ not in RELATION_WORDS):
        return head, head.lower_
    outer = governor.head if governor.head.pos_ == "ADP" and governor.head != governor else governor
    words = [t.lower_ for t in doc_span(outer, head) if t.dep_ != "det"]
    return outer, " ".join(words)


def doc_span(first, last):
    return first.doc[min(first.i, last.i):max(first.i, last.i) + 1]


def _phrase_tokens(root, noun, target_heads: set[int]) -> list:
    """The relation's words: the root and the branch of it that holds the noun ("holding an umbrella")."""
    branch = noun
    while branch.head != root and branch.head != branch:
        branch = branch.head
    if branch.head != root:  # the noun is not below the root: the root's own subtree
        branch = root
    tokens = [t for t in branch.subtree if t.i not in target_heads and t.dep_ != "punct"]
    extras = [c for c in root.children if c.dep_ in {"neg", "prt"}] + ([root] if branch != root else [])
    return sorted(tokens + extras, key=lambda t: t.i)
