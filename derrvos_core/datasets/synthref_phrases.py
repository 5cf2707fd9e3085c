"""SynthRef wording: noun phrases and motion phrases in several phrasings, singular and plural."""
from __future__ import annotations

import numpy as np

PLURAL = {"square": "squares", "circle": "circles", "triangle": "triangles", "star": "stars",
          "diamond": "diamonds", "cross": "crosses", "hexagon": "hexagons", "shape": "shapes",
          "object": "objects"}
TEXTURE_WORD = {"solid": "plain", "striped": "striped", "dotted": "dotted"}
TEXTURE_WITH = {"striped": "with stripes", "dotted": "with dots"}
DIRECTION_WORDS = {
    "left": ["left", "to the left"], "right": ["right", "to the right"], "up": ["up", "upward"],
    "down": ["down", "downward"], "up-left": ["up and to the left", "toward the top left"],
    "up-right": ["up and to the right", "toward the top right"],
    "down-left": ["down and to the left", "toward the bottom left"],
    "down-right": ["down and to the right", "toward the bottom right"],
}
# (singular, plural) relative clauses per motion predicate.
MOTION_PHRASES = {
    "still": [("that stays still", "that stay still"), ("that does not move", "that do not move"),
              ("standing still", "standing still"), ("that never moves", "that never move")],
    "stops": [("that stops", "that stop"), ("that stops moving", "that stop moving"),
              ("that moves and then stops", "that move and then stop")],
    "starts": [("that starts moving", "that start moving"), ("that begins to move", "that begin to move"),
               ("that is still at first and then moves", "that are still at first and then move")],
    "turns": [("that turns around and moves back", "that turn around and move back"),
              ("that reverses direction", "that reverse direction"), ("that turns back", "that turn back")],
    "bounces": [("bouncing off the walls", "bouncing off the walls"),
                ("that bounces off the edges", "that bounce off the edges")],
    "leaves": [("that leaves the frame", "that leave the frame"),
               ("that moves out of view", "that move out of view"),
               ("that exits the picture", "that exit the picture")],
    "enters": [("that enters the frame", "that enter the frame"), ("that appears later", "that appear later"),
               ("coming into view", "coming into view")],
    "returns": [("that leaves and comes back", "that leave and come back"),
                ("that goes out of view and returns", "that go out of view and return")],
}
ORDER_PHRASES = {  # event -> (first forms, last forms); {np} is the noun phrase
    "stops": (["the {np} that stops first", "the first {np} to stop"],
              ["the {np} that stops last", "the last {np} to stop"]),
    "starts": (["the {np} that starts moving first", "the first {np} to start moving"],
               ["the {np} that starts moving last", "the last {np} to start moving"]),
    "leaves": (["the {np} that leaves first", "the first {np} to leave the frame"],
               ["the {np} that leaves last", "the last {np} to leave the frame"]),
    "enters": (["the {np} that enters first", "the first {np} to appear"],
               ["the {np} that enters last", "the {np} that appears last"]),
}
POSITION_PHRASES = {
    "left": ["the leftmost {np}", "the {np} on the far left", "the {np} furthest to the left"],
    "right": ["the rightmost {np}", "the {np} on the far right", "the {np} furthest to the right"],
    "top": ["the topmost {np}", "the highest {np}", "the {np} nearest the top"],
    "bottom": ["the bottommost {np}", "the lowest {np}", "the {np} nearest the bottom"],
}
RELATION_PHRASES = {
    "left_of": ["the {np} to the left of the {ref}", "the {np} left of the {ref}"],
    "right_of": ["the {np} to the right of the {ref}", "the {np} right of the {ref}"],
    "above": ["the {np} above the {ref}", "the {np} higher than the {ref}"],
    "below": ["the {np} below the {ref}", "the {np} lower than the {ref}"],
    "follows": ["the {np} following the {ref}", "the {np} that follows the {ref}",
                "the {np} trailing behind the {ref}"],
    "led": ["the {np} being followed by the {ref}", "the {np} that the {ref} follows",
            "the {np} leading the {ref}"],
}
SPEED_PHRASES = {"fast": ["the faster {np}", "the {np} moving faster", "the {np} that moves fast"],
                 "slow": ["the slower {np}", "the {np} moving slowly", "the {np} that moves slowly"]}


def pick(rng: np.random.Generator, options: list):
    return options[int(rng.integers(len(options)))]


def noun_phrase(obj, attrs: tuple, rng: np.random.Generator, plural: bool = False) -> str:
    """e.g. "small red striped star"; without "shape" in attrs the noun is "shape" or "object"."""
    words = []
    if "size" in attrs:
        words.append(obj.size)
    if "colour" in attrs:
        words.append(obj.colour)
    postfix = ""
    if "texture" in attrs:
        if obj.texture in TEXTURE_WITH and rng.random() < 0.35:
            postfix = " " + TEXTURE_WITH[obj.texture]
        else:
            words.append(TEXTURE_WORD[obj.texture])
    noun = obj.shape if "shape" in attrs else pick(rng, ["shape", "object"])
    words.append(PLURAL[noun] if plural else noun)
    return " ".join(words) + postfix


def motion_phrase(pred: str, rng: np.random.Generator, plural: bool = False) -> str:
    """Relative clause for a motion predicate ("dir:left", "stops", ...)."""
    if pred.startswith("dir:"):
        word = pick(rng, DIRECTION_WORDS[pred[4:]])
        verb = ("that move" if plural else "that moves") if rng.random() < 0.4 else "moving"
        return f"{verb} {word}"
    return pick(rng, MOTION_PHRASES[pred])[1 if plural else 0]


def count_word(n: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}.get(n, str(n))
