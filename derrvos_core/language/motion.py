"""Motion in a parsed expression: moving or still, direction, speed and events ("stops", "enters")."""
from __future__ import annotations

from dataclasses import dataclass, field

from derrvos_core.language.lexicon import FRAME_NOUNS, ORDINALS
from derrvos_core.language.query import MotionQuery

#: Verb lemma -> event; particles change some ("turn around" is still "turns", "go out" -> leaves).
EVENT_VERBS = {
    "stop": "stops", "halt": "stops", "pause": "stops", "brake": "stops", "freeze": "stops",
    "start": "starts", "begin": "starts", "turn": "turns", "rotate": "turns", "spin": "turns",
    "enter": "enters", "arrive": "enters", "appear": "enters", "emerge": "enters",
    "leave": "leaves", "exit": "leaves", "disappear": "leaves", "depart": "leaves", "vanish": "leaves",
}
PHRASAL_EVENTS = {("come", "in"): "enters", ("go", "out"): "leaves", ("set", "off"): "starts",
                  ("take", "off"): "starts", ("walk", "in"): "enters", ("walk", "out"): "leaves",
                  ("drive", "off"): "leaves", ("drive", "in"): "enters", ("come", "into"): "enters"}
STILL_VERBS = {"park", "sit", "lie", "rest", "stay", "remain", "wait", "sleep", "stand", "idle", "lay"}
FAST_VERBS = {"run", "race", "sprint", "rush", "dash", "gallop", "speed", "hurry", "zoom", "bolt", "charge"}
SLOW_VERBS = {"stroll", "crawl", "creep", "amble", "saunter", "inch", "plod", "wander"}
MOVING_VERBS = FAST_VERBS | SLOW_VERBS | {
    "walk", "move", "drive", "ride", "fly", "swim", "go", "travel", "cross", "pass", "approach", "come",
    "trot", "hop", "jump", "skate", "ski", "cycle", "pedal", "jog", "head", "roll", "climb", "follow",
    "march", "glide", "slide", "surf", "paddle", "sail", "leap", "chase", "circle", "pace", "proceed",
    "advance", "retreat", "flee", "step", "skateboard", "accelerate", "overtake", "escape"}
STILL_WORDS = {"still", "stationary", "motionless", "static", "idle", "immobile", "parked", "stopped",
               "unmoving", "standstill"}
FAST_WORDS = {"fast", "quickly", "rapidly", "swiftly", "quick", "speedily", "hurriedly", "faster", "quicker",
              "speeding"}
SLOW_WORDS = {"slowly", "slow", "gradually", "leisurely", "slower"}
FASTEST_WORDS = {"fastest", "quickest"}
SLOWEST_WORDS = {"slowest"}
DIRECTION_WORDS = {"left": "left", "leftward": "left", "leftwards": "left", "right": "right",
                   "rightward": "right", "rightwards": "right", "up": "up", "upward": "up", "upwards": "up",
                   "down": "down", "downward": "down", "downwards": "down", "away": "away",
                   "closer": "towards", "nearer": "towards"}
#: Verbs the readers look up by lemma, so a form spaCy lemmatises oddly ("riding" -> "rid") is re-read.
KNOWN_VERBS = frozenset(EVENT_VERBS) | STILL_VERBS | MOVING_VERBS | {v for v, _ in PHRASAL_EVENTS}
CAMERA_WORDS = {"camera", "us", "viewer", "lens", "screen", "me", "foreground", "front"}
_TOWARD_PREPS = {"to", "towards", "toward", "into", "in"}
_NEGATIONS = {"not", "n't", "never", "no"}


@dataclass
class _Motion:
    moving: bool | None = None
    directions: list[str] = field(default_factory=list)
    speed: str | None = None
    speed_rank: int | None = None
    events: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)
    negated: list[str] = field(default_factory=list)

    def add_direction(self, direction: str) -> None:
        if direction not in self.directions:
            self.directions.append(direction)


def read_motion(doc, senses, used: set[int]) -> tuple[MotionQuery, tuple[str, ...]]:
    """The motion the expression describes, and the phrases under a negation it read."""
    state = _Motion()
    for token in doc:
        if token.i in used:
            continue
        if token.pos_ in {"VERB", "AUX"} or token.tag_ in {"VBG", "VBN"} or _gerund_as_noun(token):
            _read_verb(token, state, senses, used)
        if token.i not in used:
            _read_word(token, state, used)
    query = MotionQuery(state.moving, tuple(state.directions), state.speed, state.speed_rank,
                        tuple(dict.fromkeys(state.events)), tuple(dict.fromkeys(state.verbs)))
    return query, tuple(state.negated)


def _read_verb(verb, state: _Motion, senses, used: set[int]) -> None:
    lemma = senses.verb_lemma(verb)
    particles = [c for c in verb.children if c.i not in used and (c.dep_ in {"prt", "advmod"} or (
        c.dep_ == "prep" and not any(g.dep_ == "pobj" for g in c.children)))]
    event = _event(lemma, particles)
    negation = _negation_of(verb)
    still = lemma in STILL_VERBS and not any(p.lower_ == "up" for p in particles)
    moving = lemma in MOVING_VERBS or (event is None and not still and senses.is_motion_verb(lemma))
    if event is None and not still and not moving:
        return
    if negation is not None:
        state.negated.append(verb.doc[negation.i:verb.i + 1].text)
        if event is not None:
            return  # "never stops": kept as a negated phrase and shown as ignored
        used.add(negation.i)
    used.add(verb.i)
    state.verbs.append(lemma)
    if event is not None:
        state.events.append(event)
        used.update(p.i for p in particles if p.lower_ in {"in", "out", "off", "around", "back", "into"})
        used.update(_frame_words(verb))
    else:
        state.moving = (not still) if negation is None else still
    _read_speed(lemma, verb, state, used)
    _read_directions(verb, state, used)


def _gerund_as_noun(token) -> bool:
    """"riding" tagged as a noun ("the man on the right riding a horse"): read it as the verb."""
    return token.tag_ == "NN" and token.lower_.endswith("ing") and token.dep_ != "compound"


def _event(lemma: str, particles) -> str | None:
    for particle in particles:
        if (lemma, particle.lower_) in PHRASAL_EVENTS:
            return PHRASAL_EVENTS[(lemma, particle.lower_)]
    return EVENT_VERBS.get(lemma)


def _negation_of(verb):
    for child in verb.children:
        if child.dep_ == "neg" or (child.lower_ in _NEGATIONS and child.dep_ in {"advmod", "det"}):
            return child
    if verb.dep_ == "pcomp" and verb.head.lower_ == "without":
        return verb.head
    return None


def _read_speed(lemma: str, verb, state: _Motion, used: set[int]) -> None:
    if lemma in FAST_VERBS:
        state.speed = "fast"
    elif lemma in SLOW_VERBS:
        state.speed = "slow"
    for child in verb.children:
        if child.dep_ in {"advmod", "acomp", "npadvmod", "amod"} and child.i not in used:
            _read_word(child, state, used)


def _read_word(word, state: _Motion, used: set[int]) -> None:
    """Adjectives and adverbs of motion: still, parked, fast, slowly, fastest."""
    text = word.lower_
    if text in STILL_WORDS and not (text == "still" and word.dep_ == "advmod" and word.head.pos_ == "VERB"
                                    and word.head.lemma_ not in STILL_VERBS):
        negation = _negation_of(word) or (_negation_of(word.head) if word.dep_ == "acomp" else None)
        state.moving = negation is not None
        if negation is not None:
            state.negated.append(word.doc[negation.i:word.i + 1].text)
            used.add(negation.i)
    elif text in FAST_WORDS | SLOW_WORDS:
        state.speed = "fast" if text in FAST_WORDS else "slow"
    elif text in FASTEST_WORDS | SLOWEST_WORDS:
        state.speed = "fast" if text in FASTEST_WORDS else "slow"
        state.speed_rank = _ordinal_before(word, used)
    elif text == "moving" and word.dep_ == "amod":
        state.moving = True
    else:
        return
    used.add(word.i)


def _ordinal_before(word, used: set[int]) -> int:
    """2 for "the second fastest", else 1."""
    before = word.doc[word.i - 1] if word.i > 0 else None
    if before is not None and before.lower_ in ORDINALS:
        used.add(before.i)
        return ORDINALS[before.lower_]
    return 1


def _read_directions(verb, state: _Motion, used: set[int]) -> None:
    _read_direction_children(verb, state, used)
    after = verb.doc[verb.i + 1] if verb.i + 1 < len(verb.doc) else None
    if after is not None and after.i not in used and after.lower_ in DIRECTION_WORDS \
            and not any(c.lower_ == "of" for c in after.children):
        state.add_direction(DIRECTION_WORDS[after.lower_])  # "turns left" even when "left" is parsed as the root
        used.add(after.i)
        _read_from_camera(after, state, used)


def _read_direction_children(verb, state: _Motion, used: set[int]) -> None:
    for child in verb.children:
        if child.i in used:
            continue
        text = child.lower_
        if child.dep_ in {"advmod", "prt", "npadvmod", "dobj", "acomp"} and text in DIRECTION_WORDS:
            state.add_direction(DIRECTION_WORDS[text])
            used.add(child.i)
            _read_from_camera(child, state, used)
        elif child.dep_ == "prep":
            _read_direction_phrase(verb, child, state, used)
        elif child.dep_ == "dobj" and verb.lemma_ == "approach" and child.lower_ in CAMERA_WORDS:
            state.add_direction("towards")
            used.add(child.i)


def _read_direction_phrase(verb, prep, state: _Motion, used: set[int]) -> None:
    """"to the left", "towards the camera", "from left to right", "into the distance"."""
    obj = next((c for c in prep.children if c.dep_ in {"pobj", "pcomp"}), None)
    if obj is None:
        return
    text, word = obj.lower_, prep.lower_
    direction = None
    if word in _TOWARD_PREPS and text in DIRECTION_WORDS and text not in {"away", "closer", "nearer"}:
        direction = DIRECTION_WORDS[text]
    elif word in _TOWARD_PREPS - {"into", "in"} and text in CAMERA_WORDS:
        direction = "towards"
    elif word == "into" and text in {"distance", "background"}:
        direction = "away"
    elif word in {"up", "down"}:
        direction = word  # "down the hill", "up the stairs"
    elif word == "from" and text in DIRECTION_WORDS:
        direction = _from_to(prep, obj, used)
    if direction is not None:
        state.add_direction(direction)
        used.update(t.i for t in prep.subtree)


def _from_to(prep, obj, used: set[int]) -> str:
    """"from left to right" -> right; "from the left" alone -> right too (it travels away from there)."""
    for token in [*obj.children, *prep.children, *prep.head.children]:
        if token.dep_ == "prep" and token.lower_ == "to":
            target = next((c for c in token.children if c.dep_ in {"pobj", "pcomp"}), None) or _word_after(token)
            if target is not None and target.lower_ in DIRECTION_WORDS:
                used.update({t.i for t in token.subtree} | {target.i})
                return DIRECTION_WORDS[target.lower_]
    return {"left": "right", "right": "left", "up": "down", "down": "up"}.get(DIRECTION_WORDS[obj.lower_], "away")


def _word_after(token):
    """The word after "to" when the tagger left it unattached ("from right to left" with "left" as the root)."""
    doc = token.doc
    i = token.i + 1
    if i < len(doc) and doc[i].lower_ == "the":
        i += 1
    return doc[i] if i < len(doc) else None


def _read_from_camera(word, state: _Motion, used: set[int]) -> None:
    """"away from the camera": the "from" phrase belongs to "away"."""
    for prep in word.children:
        if prep.dep_ == "prep" and prep.lower_ == "from":
            used.update(t.i for t in prep.subtree)


def _frame_words(verb) -> list[int]:
    """"leaves the frame", "comes into view", "out of the scene": the frame is where, not what."""
    found = []
    for child in verb.children:
        if child.dep_ == "dobj" and child.lemma_.lower() in FRAME_NOUNS:
            found.extend(t.i for t in child.subtree)
        elif child.dep_ in {"prep", "prt"}:
            objects = [t for t in child.subtree if t.dep_ == "pobj"]
            if objects and all(o.lemma_.lower() in FRAME_NOUNS for o in objects):
                found.extend(t.i for t in child.subtree)
    return found
