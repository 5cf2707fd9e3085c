"""The phrases of an expression no reader understood ("with a smile", "under the tree")."""
from __future__ import annotations

#: Parts of speech that carry meaning; a phrase is reported only when it holds one unread.
CONTENT_POS = {"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM", "X", "INTJ", "SYM"}
#: Phrase heads that are reported whole ("under the tree"); other function words are looked through.
PHRASE_POS = CONTENT_POS | {"ADP", "SCONJ"}
#: Adverbs and fillers that carry nothing a scorer could use.
FILLERS = {"also", "just", "currently", "there", "here", "then", "now", "very", "really", "always",
           "the", "that", "who", "which", "is", "are", "be", "being", "been", "one"}


def unread_phrases(doc, used: set[int]) -> tuple[str, ...]:
    """Each smallest phrase, from the roots down, that holds a content word no reader used."""
    phrases: list[str] = []
    for sent in doc.sents:
        _visit(sent.root, used, phrases)
    return tuple(dict.fromkeys(p for p in phrases if p))


def _visit(token, used: set[int], phrases: list[str]) -> None:
    if token.i not in used and token.pos_ in PHRASE_POS and _has_unread(token, used):
        phrases.append(_text(token, used))
        return
    for child in token.children:
        _visit(child, used, phrases)


def _has_unread(token, used: set[int]) -> bool:
    return any(t.i not in used and _is_content(t) for t in token.subtree)


def _is_content(token) -> bool:
    if token.pos_ not in CONTENT_POS or token.lower_ in FILLERS:
        return False
    return sum(ch.isalnum() for ch in token.text) > 1 or token.text.isdigit()  # "e" of "e-bike" is no word


def _text(token, used: set[int]) -> str:
    """The phrase's unread words, in order, trimmed of leading and trailing function words."""
    words = [t for t in token.subtree if t.i not in used or t.pos_ in {"DET", "ADP", "PART", "CCONJ"}]
    while words and not _is_content(words[-1]):
        words.pop()
    while words and _leading_filler(words[0]) and words[0].i != token.i:
        words.pop(0)
    return " ".join(t.text for t in words).replace("_", " ")


def _leading_filler(token) -> bool:
    """Words a phrase need not start with ("who is", "the", "and then"); a negation stays."""
    if token.dep_ == "neg":
        return False
    return token.pos_ in {"DET", "CCONJ", "PUNCT", "PART", "AUX"} or token.tag_ in {"WP", "WDT"} \
        or token.lower_ in FILLERS
