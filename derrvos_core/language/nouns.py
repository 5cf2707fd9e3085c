"""Head noun -> COCO classes: the class names, a word table, WordNet hypernyms, then MiniLM similarity."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derrvos_core.language.coco import COCO_CLASSES, COCO_SYNSETS, class_id
from derrvos_core.language.lexicon import COMPOUND_CLASSES, GENERIC_NOUNS, NOUN_CLASSES
from derrvos_core.language.loader import LanguageParts, encode
from derrvos_core.language.query import ClassWeight

#: Senses of a noun looked at, most frequent first. A later sense is read only when SemCor tagged it
#: at least LATER_SENSE_SHARE as often as the first ("tree" the producer never is); it weighs less.
SENSES_READ = 3
LATER_SENSE_SHARE = 0.25
LATER_SENSE_WEIGHT = 0.6
#: A noun above more classes than this ("object", "artifact") names no class in particular.
MAX_HYPONYM_CLASSES = 12
#: MiniLM cosine a WordNet-unknown noun needs to a class name ("e-bike" -> bicycle 0.66; "asdf" <= 0.35),
#: and how far below the best a second class may be.
ENCODER_MIN_SIMILARITY = 0.55
ENCODER_MARGIN = 0.05


@dataclass(frozen=True)
class NounReading:
    """The classes a noun names; `unknown` is set when it names something that is no COCO class."""

    classes: tuple[ClassWeight, ...]
    unknown: str | None
    #: True when the modifier was part of the name ("teddy bear", "police dog").
    compound: bool = False


class NounClassifier:
    """Maps head nouns onto COCO classes; remembers each noun it has read."""

    def __init__(self, parts: LanguageParts):
        self._parts = parts
        self._wordnet = parts.wordnet
        self._synset_class = {name: cls for cls, names in COCO_SYNSETS.items() for name in names}
        self._cache: dict[tuple[str, str], NounReading] = {}

    def read(self, lemma: str, compound: str = "") -> NounReading:
        """Classes for a head noun lemma ("car"), with its compound modifier if any ("police")."""
        key = (lemma.lower().replace("_", " "), compound.lower())
        if key not in self._cache:
            self._cache[key] = self._read(*key)
        return self._cache[key]

    def _read(self, lemma: str, compound: str) -> NounReading:
        whole = f"{compound} {lemma}".strip()
        for name in (whole, lemma):
            named = _named_class(name)
            if named is not None:
                return NounReading(named, None, name != lemma)
        if lemma in GENERIC_NOUNS or not lemma.strip():
            return NounReading((), None)
        whole_senses = self._senses(whole) if compound else []
        senses = whole_senses or self._senses(lemma)
        if senses:
            classes = self._up(senses) or self._down(senses[0])
            return NounReading(classes, None if classes else lemma, bool(whole_senses))
        classes = self._nearest(whole)
        return NounReading(classes, None if classes else lemma)

    def _senses(self, word: str) -> list:
        key = word.replace(" ", "_").replace("-", "_")
        senses = self._wordnet.synsets(key, pos="n")[:SENSES_READ]
        counts = [sum(lemma.count() for lemma in s.lemmas() if lemma.name().lower() == key) for s in senses]
        return [s for i, s in enumerate(senses)
                if i == 0 or (counts[i] > 0 and counts[i] >= LATER_SENSE_SHARE * counts[0])]

    def _up(self, senses: list) -> tuple[ClassWeight, ...]:
        """Classes among the hypernyms of the first sense that has any ("puppy" -> dog)."""
        for rank, sense in enumerate(senses):
            above = {sense.name()} | {s.name() for s in sense.closure(_hypernyms)}
            names = sorted({self._synset_class[s] for s in above if s in self._synset_class})
            if names:
                weight = 1.0 if rank == 0 else LATER_SENSE_WEIGHT
                return tuple(ClassWeight(class_id(n), n, weight, "wordnet") for n in names)
        return ()

    def _down(self, sense) -> tuple[ClassWeight, ...]:
        """Classes below a broad noun ("animal" -> bird, cat, dog, ...), unless it covers nearly all."""
        below = {s.name() for s in sense.closure(_hyponyms)}
        names = {self._synset_class[s] for s in below if s in self._synset_class}
        if not names or len(names) > MAX_HYPONYM_CLASSES:
            return ()
        return tuple(ClassWeight(class_id(n), n, 1.0, "wordnet") for n in sorted(names, key=class_id))

    def _nearest(self, word: str) -> tuple[ClassWeight, ...]:
        """Classes whose names MiniLM puts near a word WordNet does not know ("doggo" -> dog)."""
        similarity = encode(self._parts.encoder, [word])[0] @ self._parts.class_vectors.T
        best = float(similarity.max())
        if best < ENCODER_MIN_SIMILARITY:
            return ()
        order = np.argsort(-similarity)
        chosen = [i for i in order[:3] if similarity[i] >= best - ENCODER_MARGIN]
        return tuple(ClassWeight(int(i), COCO_CLASSES[i], round(float(similarity[i]), 3), "encoder")
                     for i in chosen)


def _named_class(name: str) -> tuple[ClassWeight, ...] | None:
    if name in COCO_CLASSES:
        return (ClassWeight(class_id(name), name, 1.0, "coco"),)
    if name in COMPOUND_CLASSES:
        target = COMPOUND_CLASSES[name]
        return (ClassWeight(class_id(target), target, 1.0, "table"),)
    if name in NOUN_CLASSES:
        ranked = sorted(NOUN_CLASSES[name].items(), key=lambda kv: -kv[1])
        return tuple(ClassWeight(class_id(n), n, w, "table") for n, w in ranked)
    return None


def _hypernyms(synset) -> list:
    return synset.hypernyms() + synset.instance_hypernyms()


def _hyponyms(synset) -> list:
    return synset.hyponyms() + synset.instance_hyponyms()
