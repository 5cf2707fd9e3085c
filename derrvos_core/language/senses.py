"""WordNet look-ups the readers share: verb lemmas, motion verbs, garments and body parts, noun classes."""
from __future__ import annotations

from derrvos_core.language.colours import colour_term
from derrvos_core.language.lexicon import PART_REGIONS
from derrvos_core.language.loader import LanguageParts
from derrvos_core.language.nouns import NounClassifier, NounReading
from derrvos_core.language.query import Region
from derrvos_core.language.spatial import PLACE_WORDS, SIZE_WORDS

#: Verbs WordNet files under verb.motion that move a body in place, not the object along a path.
IN_PLACE_VERBS = {"bend", "shake", "swing", "wave", "nod", "twist", "wiggle", "dance", "stretch", "lean",
                  "sway", "rock", "tremble", "shiver", "flap", "wag", "spin", "rotate", "turn", "kneel"}
#: Hypernyms that make a noun a part of the object a colour can describe ("scarf" -> clothing).
PART_SYNSETS = frozenset({"clothing.n.01", "body_part.n.01", "headdress.n.01", "footwear.n.02"})


class WordSenses:
    """WordNet-backed answers about single words, each remembered once asked."""

    def __init__(self, parts: LanguageParts, known_verbs: frozenset[str]):
        self._wordnet = parts.wordnet
        self._known_verbs = known_verbs
        self._nouns = NounClassifier(parts)
        self._regions: dict[str, Region | None] = {}
        self._motion: dict[str, bool] = {}
        self._plural_nouns: dict[str, bool] = {}

    def classify(self, lemma: str, modifier: str = "") -> NounReading:
        """COCO classes of a head noun (nouns.NounClassifier)."""
        return self._nouns.read(lemma, modifier)

    def noun_lemma(self, token) -> str:
        """spaCy's lemma, unless the plural is a WordNet noun of its own ("glasses" are spectacles)."""
        lemma, text = token.lemma_.lower(), token.lower_
        if text == lemma or token.tag_ not in {"NNS", "NNPS"}:
            return lemma
        if text not in self._plural_nouns:
            names = {name.lower() for s in self._wordnet.synsets(text, pos="n") for name in s.lemma_names()}
            self._plural_nouns[text] = text in names
        return text if self._plural_nouns[text] else lemma

    def is_noun(self, word: str) -> bool:
        """WordNet knows the word as a noun more often than as an adjective ("cyclist", not "red")."""
        if colour_term(word) is not None or word in PLACE_WORDS or word in SIZE_WORDS:
            return False
        nouns = self._wordnet.synsets(word, pos="n")
        adjectives = self._wordnet.synsets(word, pos="a") + self._wordnet.synsets(word, pos="s")
        return bool(nouns) and len(nouns) >= len(adjectives)

    def verb_lemma(self, token) -> str:
        """spaCy's lemma, unless WordNet's reads the form as a verb the tables know ("riding": rid -> ride)."""
        lemma = token.lemma_.lower()
        gerund = token.pos_ == "NOUN" and token.lower_.endswith("ing")
        if lemma in self._known_verbs or (token.pos_ not in {"VERB", "AUX", "ADJ"} and not gerund):
            return lemma
        other = self._wordnet.morphy(token.lower_, "v")
        return other if other in self._known_verbs else lemma

    def is_motion_verb(self, lemma: str) -> bool:
        """WordNet files the verb's first sense under verb.motion ("gallop", "stagger"), not in place."""
        if lemma not in self._motion:
            senses = self._wordnet.synsets(lemma, pos="v")
            self._motion[lemma] = (bool(senses) and senses[0].lexname() == "verb.motion"
                                   and lemma not in IN_PLACE_VERBS)
        return self._motion[lemma]

    def part_region(self, word: str) -> Region | None:
        """Which part of a mask a garment or body part covers ("jacket" -> upper); None if no part."""
        if word not in self._regions:
            self._regions[word] = PART_REGIONS.get(word) or self._wordnet_part(word)
        return self._regions[word]

    def _wordnet_part(self, word: str) -> Region | None:
        for sense in self._wordnet.synsets(word, pos="n")[:2]:
            if PART_SYNSETS.intersection(s.name() for s in sense.closure(lambda s: s.hypernyms())):
                return "whole"
        return None
