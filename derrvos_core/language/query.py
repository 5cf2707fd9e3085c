"""What an English referring expression asks for, typed so a scorer can compare it with each object
trajectory's facts: its COCO class, colours, place in the frame and path over time.

`parse_expression` (parser.py) makes these; nothing here needs spaCy, WordNet or torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: A place in the frame or a size ranking. left/right/top/bottom/middle: where the object is in
#: the frame; near/far: distance from the camera (near = larger and lower in the frame);
#: biggest/smallest/tallest/shortest: a ranking by mask area or height.
SpatialKind = Literal["left", "right", "top", "bottom", "middle", "near", "far",
                      "biggest", "smallest", "tallest", "shortest"]
#: Image-plane directions plus depth: towards = growing and moving down the frame, away = shrinking.
Direction = Literal["left", "right", "up", "down", "towards", "away"]
#: Changes along a trajectory: stops (moving then still), starts (still then moving), turns
#: (direction reverses or swings), enters (comes into the frame), leaves (goes out of it).
Event = Literal["stops", "starts", "turns", "enters", "leaves"]
#: Events whose order among the candidates can be asked for ("the first person to appear").
OrderEvent = Literal["appear", "leave", "stop", "start", "move"]
#: How a class weight was found: the class name itself, the word table, WordNet, or MiniLM similarity.
ClassSource = Literal["coco", "table", "wordnet", "encoder"]
#: Which part of an object's mask a colour describes.
Region = Literal["whole", "upper", "lower"]


@dataclass(frozen=True)
class ClassWeight:
    """One COCO class the target may be, with how strongly the words say so."""

    #: Detector index, 0..79 (coco.COCO_CLASSES).
    class_id: int
    #: COCO class name ("person").
    name: str
    #: 0..1; 1 = the words name this class; lower = a weaker or shared reading ("van" -> car 0.7, truck 0.7).
    weight: float
    #: How the class was found.
    source: ClassSource


@dataclass(frozen=True)
class ColourMention:
    """A colour said of the target or of one of its parts ("the man in the pink jacket" -> pink, jacket)."""

    #: The word as written ("navy", "pink", "dark").
    word: str
    #: Its basic colour term ("navy" -> "blue"), or "dark" / "light" for a shade word alone.
    name: str
    #: Reference colour (L*, a*, b*), shade applied ("dark blue" is darker than "blue").
    lab: tuple[float, float, float]
    #: False when only lightness was said ("the dark car"): compare L* only.
    hue_matters: bool
    #: "dark" / "light" when a shade word modifies the colour, else None.
    shade: str | None
    #: The part the colour is said of ("jacket", "hair"), None for the object as a whole.
    part: str | None
    #: Which part of the object's mask to look at.
    region: Region
    #: True for "not red": the target is anything but this colour.
    negated: bool = False


@dataclass(frozen=True)
class SpatialRelation:
    """Where the target is, or how it ranks by size or depth."""

    kind: SpatialKind
    #: k for "the k-th most <kind>" ("the second car from the right" -> right, 2; "leftmost",
    #: "far left", "biggest" -> 1); None for a softer "on the left" / "big": prefer, do not rank.
    rank: int | None
    #: The words it was read from.
    phrase: str


@dataclass(frozen=True)
class MotionQuery:
    """What the target does over time. Every field None or empty = the expression says nothing."""

    #: True: moves (walking, driving, running); False: stays still (parked, standing still, not
    #: moving); None: not said.
    moving: bool | None = None
    #: Directions of travel ("walking towards the camera" -> ("towards",)).
    directions: tuple[Direction, ...] = ()
    #: "fast" (running, quickly, fastest) or "slow" (slowly, crawling), None if not said.
    speed: Literal["fast", "slow"] | None = None
    #: 1 for "the fastest"/"the slowest" (k for "the k-th fastest"), None otherwise.
    speed_rank: int | None = None
    #: Changes along the path ("the person who stops" -> ("stops",)).
    events: tuple[Event, ...] = ()
    #: Motion verbs read, as lemmas ("walk", "park"), for display.
    verbs: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderQuery:
    """An order in time among candidates: "the first person to appear" -> appear, rank 1."""

    event: OrderEvent
    #: 1 = first (or last, with from_end).
    rank: int
    #: True for "last" / "the second to last".
    from_end: bool = False


@dataclass(frozen=True)
class TargetCount:
    """How many objects the expression refers to."""

    #: one (singular), exact (a number: "the two people"), several (plural, no number), all ("all the cars").
    kind: Literal["one", "exact", "several", "all"]
    #: The number for one / exact; None for several and all.
    n: int | None


@dataclass(frozen=True)
class RelatedObject:
    """Another object the expression relates the target to ("the lady holding an umbrella").

    The target is not this object: a scorer may look for a trajectory of these classes near the
    target, and one that does not should show `phrase` to the user as unused.
    """

    #: The relating verb or preposition ("hold", "next to", "ride", "behind").
    relation: str
    #: The other object's head noun (lemma).
    noun: str
    #: COCO classes of the other object (empty if it is no COCO class, e.g. "tree").
    classes: tuple[ClassWeight, ...]
    #: Colours said of the other object ("next to the red car" -> red).
    colours: tuple[ColourMention, ...]
    #: The words it was read from ("holding an umbrella").
    phrase: str
    #: True for "not holding an umbrella".
    negated: bool = False


@dataclass(frozen=True)
class ExpressionQuery:
    """An expression read into what a trajectory scorer compares with each trajectory."""

    #: The expression as given.
    text: str
    #: Lemma of the target's head noun ("man"), None when the expression names none ("moving left").
    head_noun: str | None
    #: COCO classes the target may be, strongest first; empty = any class (no noun, "the one", or
    #: a noun that is no COCO class: then `unknown_noun` says which).
    classes: tuple[ClassWeight, ...]
    #: The head noun when it names no COCO class ("tree"), else None.
    unknown_noun: str | None
    #: Colours said of the target or its parts.
    colours: tuple[ColourMention, ...]
    #: Places in the frame and size rankings.
    spatial: tuple[SpatialRelation, ...]
    #: Movement, speed and events.
    motion: MotionQuery
    #: Order of appearance or of an event, None if not asked.
    order: OrderQuery | None
    #: How many targets.
    count: TargetCount
    #: Other objects the target is related to.
    related: tuple[RelatedObject, ...] = ()
    #: Phrases under a negation ("not moving"). Those understood are applied where they belong
    #: (moving=False, ColourMention.negated, RelatedObject.negated); the rest are also in `ignored`.
    negated: tuple[str, ...] = ()
    #: Phrases that were read but map onto nothing above ("with a smile"), for the app to show.
    ignored: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return asdict(self)
