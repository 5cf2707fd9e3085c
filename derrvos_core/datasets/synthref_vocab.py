"""SynthRef vocabulary: the shapes, colours, sizes, textures, behaviours and directions a scene draws from."""

SHAPES = ("square", "circle", "triangle", "star", "diamond", "cross", "hexagon")
COLOURS = {
    "red": (222, 44, 44), "green": (46, 178, 70), "blue": (46, 92, 232), "yellow": (240, 214, 48),
    "purple": (156, 70, 212), "orange": (250, 144, 32), "white": (240, 240, 240),
}
SIZES = ("small", "large")
TEXTURES = ("solid", "striped", "dotted")
BEHAVIOURS = ("still", "linear", "stop", "start", "turn", "bounce", "leave", "enter", "return", "follow")
DIRECTIONS = {
    "left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0),
    "up-left": (-0.7071, -0.7071), "up-right": (0.7071, -0.7071),
    "down-left": (-0.7071, 0.7071), "down-right": (0.7071, 0.7071),
}
CARDINAL = ("left", "right", "up", "down")
# Colour-shape-behaviour combinations that only the test split contains (compositional generalisation).
HELD_OUT = frozenset({
    ("red", "star", "turn"), ("blue", "circle", "stop"), ("yellow", "triangle", "bounce"),
    ("green", "square", "leave"), ("purple", "diamond", "start"), ("orange", "cross", "enter"),
    ("white", "hexagon", "linear"),
})
# Short videos favour the events MeViS asks about; long ones favour leaving and coming back.
WEIGHTS_SHORT = {"still": 1.0, "linear": 1.6, "stop": 1.2, "start": 1.0, "turn": 1.1, "bounce": 0.8,
                  "leave": 0.9, "enter": 0.8, "return": 0.4, "follow": 0.7}
WEIGHTS_LONG = {"still": 0.7, "linear": 0.6, "stop": 0.9, "start": 0.9, "turn": 0.8, "bounce": 1.2,
                 "leave": 1.0, "enter": 1.0, "return": 1.4, "follow": 0.6}
