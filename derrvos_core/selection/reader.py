"""The `real` model's multimodal branch: the expression read into an `ExpressionQuery` (spaCy, WordNet,
MiniLM); no per-frame tokens, since `FactSelector` compares the query with trajectory facts."""
from __future__ import annotations

from dataclasses import dataclass

from derrvos_core.validation import expression_text
from derrvos_core.language.parser import MAX_CHARS, ExpressionParser, default_parser
from derrvos_core.language.query import ExpressionQuery


@dataclass(frozen=True)
class ParsedExpression:
    """An expression as the real model read it (the `Expression` of `model.branches`).

    Attributes:
        text: the expression, whitespace normalised.
        truncated: True when it was longer than the parser reads (`MAX_CHARS`).
        ignored: phrases it read but could not use ("carrying a bag"), for the user to see.
        query: what it asks for, as the selector reads it.
    """

    text: str
    truncated: bool
    ignored: tuple[str, ...]
    query: ExpressionQuery


class ExpressionReader:
    """`MultimodalBranch` of the real model. The language parts load on the first `read` (seconds),
    once per process, unless a loaded `parser` is given."""

    key = "expression-reader-1"

    def __init__(self, parser: ExpressionParser | None = None):
        self._parser = parser

    @property
    def parser(self) -> ExpressionParser:
        if self._parser is None:
            self._parser = default_parser()
        return self._parser

    def read(self, text: str) -> ParsedExpression:
        """InputError (before any parsing) for what no store can hold or nobody can read: empty, NUL,
        lone surrogates, only invisible characters (`validation.expression_text`)."""
        expression_text(text)
        normal = " ".join(text.split())
        query = self.parser.parse(normal)
        truncated = len(normal) > MAX_CHARS
        return ParsedExpression(text=normal, truncated=truncated, ignored=tuple(query.ignored), query=query)

    def frame_tokens(self, prepared, expression: ParsedExpression) -> None:
        del prepared, expression
        return None
