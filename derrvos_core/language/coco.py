"""The 80 COCO detection classes in the 0-based order detectors emit, and where each sits in WordNet.

Detectors trained on COCO (CenterNet, NanoDet, Mask2Former, ...) number the 80 thing classes
0..79 in this order (the 91 original category ids with the 11 unused ones dropped).
"""
from __future__ import annotations

from derrvos_core.errors import InputError

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

#: WordNet 3.0 noun synsets whose hyponyms a detector would report as the class. A noun maps onto
#: a class when one of these is among its hypernyms ("puppy" -> dog.n.01 -> dog). Classes whose
#: everyday sense is not WordNet's first (cow -> cattle, tv -> television_receiver) name the
#: synset that holds the things a detector sees.
COCO_SYNSETS: dict[str, tuple[str, ...]] = {
    "person": ("person.n.01",), "bicycle": ("bicycle.n.01",), "car": ("car.n.01",),
    "motorcycle": ("motorcycle.n.01", "motor_scooter.n.01"), "airplane": ("airplane.n.01",),
    "bus": ("bus.n.01",), "train": ("train.n.01", "locomotive.n.01", "streetcar.n.01"),
    "truck": ("truck.n.01",), "boat": ("boat.n.01", "ship.n.01"),
    "traffic light": ("traffic_light.n.01",), "fire hydrant": ("fireplug.n.01",),
    "stop sign": (), "parking meter": ("parking_meter.n.01",), "bench": ("bench.n.01",),
    "bird": ("bird.n.01",), "cat": ("cat.n.01",), "dog": ("dog.n.01",), "horse": ("horse.n.01",),
    "sheep": ("sheep.n.01",), "cow": ("cattle.n.01", "cow.n.01"), "elephant": ("elephant.n.01",),
    "bear": ("bear.n.01",), "zebra": ("zebra.n.01",), "giraffe": ("giraffe.n.01",),
    "backpack": ("backpack.n.01",), "umbrella": ("umbrella.n.01",), "handbag": ("bag.n.04",),
    "tie": ("necktie.n.01",), "suitcase": ("bag.n.06",), "frisbee": ("frisbee.n.01",),
    "skis": ("ski.n.01",), "snowboard": ("snowboard.n.01",), "sports ball": ("ball.n.01",),
    "kite": ("kite.n.03",), "baseball bat": ("baseball_bat.n.01",),
    "baseball glove": ("baseball_glove.n.01",), "skateboard": ("skateboard.n.01",),
    "surfboard": ("surfboard.n.01",), "tennis racket": ("tennis_racket.n.01",),
    "bottle": ("bottle.n.01",), "wine glass": ("wineglass.n.01",), "cup": ("cup.n.01",),
    "fork": ("fork.n.01",), "knife": ("knife.n.01",), "spoon": ("spoon.n.01",),
    "bowl": ("bowl.n.03",), "banana": ("banana.n.02",), "apple": ("apple.n.01",),
    "sandwich": ("sandwich.n.01",), "orange": ("orange.n.01",), "broccoli": ("broccoli.n.02",),
    "carrot": ("carrot.n.03",), "hot dog": ("hotdog.n.02",), "pizza": ("pizza.n.01",),
    "donut": ("doughnut.n.02",), "cake": ("cake.n.03",), "chair": ("chair.n.01",),
    "couch": ("sofa.n.01",), "potted plant": ("pot_plant.n.01", "houseplant.n.01"),
    "bed": ("bed.n.01",), "dining table": ("table.n.02",), "toilet": ("toilet.n.02",),
    "tv": ("television_receiver.n.01",), "laptop": ("laptop.n.01",), "mouse": ("mouse.n.04",),
    "remote": ("remote_control.n.01",), "keyboard": ("computer_keyboard.n.01",),
    "cell phone": ("cellular_telephone.n.01",), "microwave": ("microwave.n.02",),
    "oven": ("oven.n.01",), "toaster": ("toaster.n.02",), "sink": ("sink.n.01",),
    "refrigerator": ("electric_refrigerator.n.01", "refrigerator.n.01"), "book": ("book.n.02",),
    "clock": ("clock.n.01",), "vase": ("vase.n.01",), "scissors": ("scissors.n.01",),
    "teddy bear": ("teddy.n.01",), "hair drier": ("hand_blower.n.01",),
    "toothbrush": ("toothbrush.n.01",),
}

_IDS = {name: i for i, name in enumerate(COCO_CLASSES)}


def class_id(name: str) -> int:
    """The detector index of a COCO class name ("person" -> 0); InputError for any other name."""
    try:
        return _IDS[name]
    except KeyError:
        raise InputError(f"{name!r} is not one of the 80 COCO class names") from None
