"""The one `main` of the training scripts that take `add_arguments(parser)` and `run(args) -> int`: the
module docstring as the help text, laid out as written."""
from __future__ import annotations

import argparse
from typing import Callable


def script_main(doc: str | None, add_arguments: Callable[[argparse.ArgumentParser], None],
                run: Callable[[argparse.Namespace], int], argv: list[str] | None = None) -> int:
    """Parse `argv` (None: the command line) with the script's arguments and return `run`'s exit status."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))
