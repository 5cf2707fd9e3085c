"""What the language tests share: short views of a parsed query. The `parser` fixture is in conftest.py."""
from __future__ import annotations

from derrvos_core.language.query import ExpressionQuery


def classes(query: ExpressionQuery) -> list[str]:
    return [c.name for c in query.classes]


def spatial(query: ExpressionQuery) -> list[tuple[str, int | None]]:
    return [(s.kind, s.rank) for s in query.spatial]
