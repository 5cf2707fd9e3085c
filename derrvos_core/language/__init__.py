"""The language side of the `real` model: an English referring expression read into a typed
`ExpressionQuery` (target classes, colours, place, motion, order, count) that a scorer compares with
each trajectory's facts.

Importing this package loads nothing; `parse_expression` / `ExpressionParser.load()` load spaCy,
WordNet and MiniLM on first use.
"""
from derrvos_core.language.coco import COCO_CLASSES, class_id
from derrvos_core.language.colours import colour_term, srgb_to_lab
from derrvos_core.language.loader import MissingLanguagePart
from derrvos_core.language.parser import ExpressionParser, default_parser, parse_expression
from derrvos_core.language.query import (
                                         ClassWeight,
                                         ColourMention,
                                         ExpressionQuery,
                                         MotionQuery,
                                         OrderQuery,
                                         RelatedObject,
                                         SpatialRelation,
                                         TargetCount,
)

__all__ = [
    "COCO_CLASSES", "ClassWeight", "ColourMention", "ExpressionParser", "ExpressionQuery", "MissingLanguagePart",
    "MotionQuery", "OrderQuery", "RelatedObject", "SpatialRelation", "TargetCount", "class_id", "colour_term",
    "default_parser", "parse_expression", "srgb_to_lab",
]
