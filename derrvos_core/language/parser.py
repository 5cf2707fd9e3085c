"""Reads an English referring expression into an `ExpressionQuery` with spaCy, WordNet and MiniLM.

    parser = ExpressionParser.load()          # ~10 s once: spaCy, WordNet, MiniLM
    query = parser.parse("the man in the pink jacket walking to the left")

`parse_expression(text)` does the same with one parser built on first use and kept for the process.
"""
from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

from derrvos_core.errors import InputError
from derrvos_core.language.coco import COCO_CLASSES
from derrvos_core.language.colour_words import read_colours
from derrvos_core.language.leftovers import unread_phrases
from derrvos_core.language.lexicon import COMPOUND_CLASSES
from derrvos_core.language.loader import WORDNET_DIR, LanguageParts, load_language_parts
from derrvos_core.language.motion import KNOWN_VERBS, read_motion
from derrvos_core.language.nouns import NounReading
from derrvos_core.language.order import read_order
from derrvos_core.language.query import ClassWeight, ExpressionQuery
from derrvos_core.language.related import read_related
from derrvos_core.language.senses import WordSenses
from derrvos_core.language.spatial import read_spatial
from derrvos_core.language.target import Target, find_target, modifier_text, read_count

#: Characters read of an expression; the rest is reported in `ignored` (keeps a parse under ~0.5 s).
MAX_CHARS = 1000
_NEGATIONS = {"not", "n't", "never", "no"}
# Two-word class names become one token ("fire_hydrant", "teddy_bears"): the small tagger often mis-tags
# the pair.
_MULTIWORD = sorted({n for n in (*COCO_CLASSES, *COMPOUND_CLASSES) if " " in n}, key=len, reverse=True)
_REWRITES = ((re.compile(r"\b(left|right|top|bottom)[- ]most\b"), r"\1most"),
             (re.compile(r"\b(left|right)[- ]hand\b"), r"\1"),
             (re.compile(r"\s+"), " "),
             (re.compile(r"\b(" + "|".join(map(re.escape, _MULTIWORD)) + r")(e?s)?\b"),
              lambda m: m.group(0).replace(" ", "_")))


class ExpressionParser:
    """Holds the loaded language parts and reads expressions with them. Its caches only ever gain
    entries, so threads may share one parser."""

    def __init__(self, parts: LanguageParts):
        self.parts = parts
        self._senses = WordSenses(parts, KNOWN_VERBS)

    @classmethod
    def load(cls, wordnet_dir: Path = WORDNET_DIR) -> ExpressionParser:
        """Load spaCy, WordNet and MiniLM; MissingLanguagePart names any that is not installed."""
        return cls(load_language_parts(wordnet_dir))

    def parse(self, text: str) -> ExpressionQuery:
        """Read one expression; InputError if it is not a string or has no words."""
        read, rest = _normalise(text)
        doc = self.parts.nlp(read)
        target = find_target(doc, self._senses.is_noun, self._names_class, self._is_part)
        heads = _target_indices(target)
        used = set(heads) | _determiners(target)
        count = read_count(doc, target, used, self._senses.is_plural)
        classes, unknown = self._classes(target, used)
        # Each reader claims the tokens it understood, so order matters: "first ... to appear" is an
        # order before "appear" is an event, "walking to the left" a direction before "left" is a place,
        # and "next to the car on the left" a relation before its "left" could be the target's.
        order = read_order(doc, target.head, used)
        motion, motion_negated = read_motion(doc, self._senses, used)
        colours = read_colours(doc, heads, self._senses, used)
        related = read_related(doc, heads, self._senses, colours.others, used)
        spatial = read_spatial(doc, target.head, used)
        negated = motion_negated + colours.negated + tuple(r.phrase for r in related if r.negated)
        negated += _unread_negations(doc, used)
        ignored = unread_phrases(doc, used) + ((_rest_note(rest),) if rest else ())
        head = self._senses.noun_lemma(target.head).replace("_", " ") if target.head is not None else None
        return ExpressionQuery(text, head, classes, unknown, colours.target, spatial, motion, order, count,
                               related, tuple(dict.fromkeys(negated)), ignored)

    def _classes(self, target: Target, used: set[int]) -> tuple[tuple[ClassWeight, ...], str | None]:
        """Classes of the head noun and of nouns joined to it ("the man and the dog")."""
        if target.head is None:
            return (), None
        nouns = (target.head, *target.conjuncts)
        readings = [self._read_noun(t) for t in nouns]
        used.update(t.i - 1 for t, r in zip(nouns, readings) if r.compound or self._same_class_modifier(t, r))
        best: dict[int, ClassWeight] = {}
        for reading in readings:
            for weight in reading.classes:
                if weight.class_id not in best or best[weight.class_id].weight < weight.weight:
                    best[weight.class_id] = weight
        ordered = tuple(sorted(best.values(), key=lambda w: (-w.weight, w.class_id)))
        unknown = next((r.unknown for r in readings if r.unknown is not None), None)
        return ordered, unknown if not ordered else None

    def _same_class_modifier(self, noun, reading: NounReading) -> bool:
        """"a bear cub": the modifier names a class the noun already has."""
        if noun.i == 0 or not modifier_text(noun) or not reading.classes:
            return False
        modifier = self._senses.classify(noun.doc[noun.i - 1].lemma_.lower())
        return bool({c.class_id for c in modifier.classes} & {c.class_id for c in reading.classes})

    def _names_class(self, token) -> bool:
        return bool(self._read_noun(token).classes)

    def _is_part(self, token) -> bool:
        senses = self._senses
        return (senses.part_region(token.lower_) or senses.part_region(token.lemma_.lower())) is not None

    def _read_noun(self, token) -> NounReading:
        return self._senses.classify(self._senses.noun_lemma(token), modifier_text(token))


@cache
def default_parser() -> ExpressionParser:
    """One parser for the process, loaded on first use."""
    return ExpressionParser.load()


def parse_expression(text: str, parser: ExpressionParser | None = None) -> ExpressionQuery:
    """Read a referring expression; with no parser given, `default_parser()` (loaded once)."""
    return (parser or default_parser()).parse(text)


def _normalise(text: str) -> tuple[str, str]:
    """(the lower-cased, NFKC-normalised words read, the part beyond MAX_CHARS)."""
    if not isinstance(text, str):
        raise InputError(f"an expression must be a string, got {type(text).__name__}")
    read = unicodedata.normalize("NFKC", text).strip().lower()
    for pattern, replacement in _REWRITES:
        read = pattern.sub(replacement, read)
    if not any(ch.isalnum() for ch in read):
        raise InputError(f"the expression has no words: {text!r}")
    if len(read) <= MAX_CHARS:
        return read, ""
    cut = read.rfind(" ", 0, MAX_CHARS)
    cut = cut if cut > 0 else MAX_CHARS
    return read[:cut], read[cut:].strip()


def _target_indices(target: Target) -> set[int]:
    tokens = [target.head, *target.conjuncts, target.group]
    return {t.i for t in tokens if t is not None}


def _determiners(target: Target) -> set[int]:
    tokens = [t for t in (target.head, *target.conjuncts) if t is not None]
    return {c.i for t in tokens for c in t.children if c.dep_ in {"det", "cc", "punct"}}


def _unread_negations(doc, used: set[int]) -> tuple[str, ...]:
    """Negations no reader applied ("never stops"), as the words from the negation to what it negates."""
    found = []
    for token in doc:
        if token.lower_ in _NEGATIONS and token.i not in used and token.dep_ in {"neg", "det", "advmod"}:
            head = token.head
            found.append(doc[min(token.i, head.i):max(t.i for t in head.subtree) + 1].text)
    return tuple(found)


def _rest_note(rest: str) -> str:
    return f"{rest[:60]}… ({len(rest)} more characters not read)"
