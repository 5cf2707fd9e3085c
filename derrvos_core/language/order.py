"""Order in time: "the first person to appear", "the last car to leave", "the one who enters second"."""
from __future__ import annotations

from derrvos_core.language.lexicon import ORDINALS
from derrvos_core.language.query import OrderQuery

#: Verb lemma -> the event whose order is asked.
ORDER_VERBS = {
    "appear": "appear", "enter": "appear", "arrive": "appear", "come": "appear", "show": "appear",
    "emerge": "appear", "leave": "leave", "exit": "leave", "disappear": "leave", "depart": "leave",
    "stop": "stop", "halt": "stop", "start": "start", "begin": "start", "move": "move",
}
#: Order words: (rank, counted from the end).
ORDER_WORDS = {**{w: (r, False) for w, r in ORDINALS.items()}, "last": (1, True), "final": (1, True),
               "earliest": (1, False), "latest": (1, True)}


def read_order(doc, target_head, used: set[int]) -> OrderQuery | None:
    """An order word tied to an event verb, on the target or on the verb; None if there is none."""
    for verb in doc:
        event = ORDER_VERBS.get(verb.lemma_.lower())
        if event is None or verb.pos_ not in {"VERB", "AUX"} or verb.i in used:
            continue
        word = _order_word(verb, target_head)
        if word is None:
            continue
        rank, from_end = ORDER_WORDS[word.lower_]
        used.add(word.i)
        if event == "appear":
            used.update([verb.i] + [c.i for c in verb.children if c.dep_ in {"aux", "prt"}])
        return OrderQuery(event, rank, from_end)
    return None


def _order_word(verb, target_head):
    """The order word on the verb ("appears first") or on the noun the verb describes ("first person to appear")."""
    for child in verb.children:
        if child.lower_ in ORDER_WORDS and child.dep_ in {"advmod", "npadvmod", "amod", "attr", "acomp"}:
            return child
    described = verb.head if verb.dep_ in {"relcl", "acl", "xcomp"} else target_head
    if described is None or described.i == verb.i:
        return None
    for child in described.children:
        if child.lower_ in ORDER_WORDS and child.dep_ in {"amod", "advmod", "nummod"} and child.i < verb.i:
            return child
    return None
