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
#: spaCy's tags for plural nouns.
PLURAL_TAGS = frozenset({"NNS", "NNPS"})
#: How often, relative to the singular, SemCor must tag a plural as a noun of its own (`_own_plural`).
OWN_PLURAL_SHARE = 0.1


class WordSenses:
    """WordNet-backed answers about single words, each remembered once asked."""

    def __init__(self, parts: LanguageParts, known_verbs: frozenset[str]):
        self._wordnet = parts.wordnet
        self._known_verbs = known_verbs
        self._nouns = NounClassifier(parts)
        self._regions: dict[str, Region | None] = {}
        self._motion: dict[str, bool] = {}
        self._own_plurals: dict[tuple[str, str], bool] = {}

    def classify(self, lemma: str, modifier: str = "") -> NounReading:
        """COCO classes of a head noun (nouns.NounClassifier)."""
        return self._nouns.read(lemma, modifier)

    def noun_lemma(self, token) -> str:
        """The singular of a plural noun ("men" -> "man", "geese" tagged as a name -> "goose"), unless the
        plural is a noun of its own ("glasses" are spectacles; `_own_plural`)."""
        singular = self._singular(token)
        if singular is None:
            return token.lemma_.lower()
        return token.lower_ if self._own_plural(token.lower_, singular) else singular

    def is_plural(self, token) -> bool | None:
        """True for a plural noun ("men", "taxis" tagged NN, "glasses"), False for a singular, None when spaCy
        tags it plural but the form is the singular's too ("sheep", "deer"): the noun does not say."""
        singular = self._singular(token)
        if singular is not None and not self._own_plural(token.lower_, singular):
            return True
        if token.tag_ in PLURAL_TAGS:
            return True if singular is not None else None
        return False

    def _singular(self, token) -> str | None:
        """The singular a noun form may be the plural of: spaCy's lemma or WordNet's base forms, the first
        that names a COCO class ("vases": spaCy's "vas" names none, "vase" does); None for a singular or a
        plural of the same form ("sheep")."""
        text, lemma = token.lower_, token.lemma_.lower()
        forms = [lemma] if lemma != text and token.tag_ in PLURAL_TAGS else []
        forms = list(dict.fromkeys(forms + self._base_forms(text)))
        return next((f for f in forms if self.classify(f).classes), forms[0] if forms else None)

    def _base_forms(self, word: str) -> list[str]:
        """WordNet nouns a form may be the plural of, itself left out ("taxis" -> "taxi"; "vases" -> "vase",
        "vas"; "men" -> "man"); for a joined name, its last word's ("race_cars" -> "race_car")."""
        first = self._wordnet.morphy(word, "n")
        rules = self._wordnet.MORPHOLOGICAL_SUBSTITUTIONS["n"]
        forms = ([first] if first else []) + [word[:-len(old)] + new for old, new in rules if word.endswith(old)]
        found = [f for f in dict.fromkeys(forms) if f != word and self._wordnet.lemmas(f, pos="n")]
        if "_" in word and not found:
            prefix, last = word.rsplit("_", 1)
            found = [f"{prefix}_{base}" for base in self._base_forms(last)]
        return found

    def _own_plural(self, plural: str, singular: str) -> bool:
        """The plural is a WordNet noun of its own and is read so: when it names the classes the singular
        names, only if those are none ("pants", but "cows" are cows); when it names others, if SemCor tags
        it so at least OWN_PLURAL_SHARE as often as the singular's commonest sense, whose count takes in
        the singular's plurals too (glasses 4 vs glass 22 are spectacles; men 35, the work force, vs man 749
        are men)."""
        key = (plural, singular)
        if key not in self._own_plurals:
            own = self._lemma_counts(plural)
            mine, its = self._class_ids(plural), self._class_ids(singular)
            if not own:
                self._own_plurals[key] = False
            elif mine == its:
                self._own_plurals[key] = not its
            else:
                singular_count = max(self._lemma_counts(singular), default=0)
                self._own_plurals[key] = max(own) > 0 and max(own) >= OWN_PLURAL_SHARE * singular_count
        return self._own_plurals[key]

    def _class_ids(self, lemma: str) -> set[int]:
        return {weight.class_id for weight in self.classify(lemma).classes}

    def _lemma_counts(self, word: str) -> list[int]:
        """SemCor counts of each noun sense named `word` itself (not a form WordNet reduces it to)."""
        return [lemma.count() for lemma in self._wordnet.lemmas(word, pos="n")]

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
