"""Selection for the `real` model: trajectory facts scored against a parsed expression."""
from derrvos_core.selection.facts import TrajectoryFacts
from derrvos_core.selection.params import SelectorParams
from derrvos_core.selection.selector import FactSelector, score_facts

__all__ = ["FactSelector", "SelectorParams", "TrajectoryFacts", "score_facts"]
