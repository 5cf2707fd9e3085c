"""Word tables the parser reads before WordNet: words WordNet maps wrongly or not at all for videos.

Every entry is a spaCy lemma (lower case). Nouns not listed go through WordNet hypernyms, then the
MiniLM encoder (`nouns.py`).
"""
from __future__ import annotations

#: Nouns for a group of people that, said alone, name the targets and how many they are (None:
#: several): "the couple walking side by side" -> person, exactly 2. With "of" the group is read
#: through instead ("a pair of dogs", GROUP_NOUNS).
PEOPLE_GROUPS: dict[str, int | None] = {
    "couple": 2, "pair": 2, "duo": 2, "trio": 3, "group": None, "crowd": None, "family": None, "team": None,
    "gang": None,
}

#: Head nouns whose COCO classes WordNet's first sense gets wrong for video ("van" is first
#: "avant-garde"), or that detectors split between classes; weights say how likely each class is.
NOUN_CLASSES: dict[str, dict[str, float]] = {
    **{w: {"person": 1.0} for w in (
        "man", "woman", "kid", "boy", "girl", "lady", "gentleman", "pedestrian", "cyclist", "rider",
        "player", "guy", "people", "child", "baby", "toddler", "adult", "human", "someone", "somebody",
        "individual", "biker", "skier", "skater", "surfer", "dancer", "runner", "walker", "jogger",
        "driver", "passenger", "motorcyclist", "skateboarder", "snowboarder", "athlete", "folk",
        *PEOPLE_GROUPS)},
    "automobile": {"car": 1.0}, "auto": {"car": 1.0}, "taxi": {"car": 1.0}, "cab": {"car": 1.0},
    "suv": {"car": 0.8, "truck": 0.4}, "jeep": {"car": 0.8, "truck": 0.4},
    "van": {"car": 0.7, "truck": 0.7}, "minivan": {"car": 0.8, "truck": 0.5},
    "pickup": {"truck": 1.0, "car": 0.4}, "lorry": {"truck": 1.0},
    "vehicle": {"car": 1.0, "truck": 1.0, "bus": 1.0, "motorcycle": 1.0, "bicycle": 0.8, "train": 0.8,
                "boat": 0.6, "airplane": 0.6},
    "bike": {"bicycle": 1.0, "motorcycle": 0.6}, "motorbike": {"motorcycle": 1.0},
    "scooter": {"motorcycle": 0.8, "bicycle": 0.3}, "moped": {"motorcycle": 1.0},
    "puppy": {"dog": 1.0}, "pup": {"dog": 1.0}, "kitten": {"cat": 1.0}, "kitty": {"cat": 1.0},
    "pony": {"horse": 1.0}, "foal": {"horse": 1.0}, "calf": {"cow": 1.0}, "lamb": {"sheep": 1.0},
    "cub": {"bear": 1.0}, "plane": {"airplane": 1.0}, "jet": {"airplane": 1.0}, "tram": {"train": 1.0},
    "ship": {"boat": 1.0}, "tv": {"tv": 1.0}, "phone": {"cell phone": 1.0}, "ball": {"sports ball": 1.0},
    "table": {"dining table": 1.0}, "sofa": {"couch": 1.0}, "plant": {"potted plant": 1.0},
    "bag": {"handbag": 1.0, "backpack": 0.5, "suitcase": 0.5}, "racket": {"tennis racket": 1.0},
    "glove": {"baseball glove": 1.0}, "bat": {"baseball bat": 0.6}, "glass": {"wine glass": 0.6, "cup": 0.4},
}

#: Compound heads that name a COCO class in two words ("fire hydrant", "teddy bear"), beyond the
#: class names themselves.
COMPOUND_CLASSES: dict[str, str] = {
    "police car": "car", "race car": "car", "sports car": "car", "fire truck": "truck",
    "police officer": "person", "tennis ball": "sports ball", "soccer ball": "sports ball",
    "football": "sports ball", "basketball": "sports ball", "baseball": "sports ball",
    "hair dryer": "hair drier", "mobile phone": "cell phone", "smartphone": "cell phone",
}

#: Head nouns that name no class ("the one on the left"): any class may be the target.
GENERIC_NOUNS = frozenset({
    "one", "ones", "object", "thing", "something", "item", "stuff", "target", "entity", "that", "this",
    "it", "which", "who", "what", "whatever", "anything", "everything", "instance", "other", "others",
})

#: Nouns naming a group, whose "of" object is the real head ("a group of people" -> people, several).
GROUP_NOUNS: dict[str, int | None] = {
    **PEOPLE_GROUPS, "herd": None, "flock": None, "pack": None, "bunch": None, "line": None, "row": None,
    "number": None, "lot": None,
}

#: Words that ask for a number of targets; None means "several".
COUNT_WORDS: dict[str, int | None] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "both": 2, "several": None, "some": None, "many": None, "multiple": None, "few": None,
    "various": None, "numerous": None,
}
ALL_WORDS = frozenset({"all", "every", "each", "everyone", "everybody"})

ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5,
}

#: Nouns for the picture itself: "to the left of the frame" is a place, not another object.
FRAME_NOUNS = frozenset({"frame", "screen", "image", "picture", "video", "scene", "view", "shot", "camera",
                         "road", "street", "field", "side", "edge", "corner", "group", "line", "row",
                         "part", "half", "area", "portion", "section", "end"})

#: Object parts and clothing a colour can describe, with the part of the object's mask they cover.
PART_REGIONS: dict[str, str] = {
    **{w: "upper" for w in (
        "jacket", "shirt", "top", "sweater", "hoodie", "jersey", "vest", "blouse", "t-shirt",
        "tshirt", "tee", "sweatshirt", "cardigan", "hat", "cap", "helmet", "hair", "head", "scarf",
        "hood", "uniform", "tank", "suit", "backpack", "bag", "jumper", "gloves", "glove", "mane")},
    **{w: "lower" for w in (
        "pants", "trousers", "jeans", "shorts", "skirt", "shoe", "shoes", "boot", "boots", "leg", "legs",
        "sneakers", "socks", "leggings", "feet", "foot", "wheel", "wheels", "tire", "tires")},
    **{w: "whole" for w in (
        "dress", "clothes", "clothing", "outfit", "fur", "coat", "body", "paint", "skin", "feathers",
        "costume", "spots", "stripes", "roof", "door", "tail", "wings", "wing", "saddle", "collar")},
}
