"""Read a pickle that may only hold plain data (RefCOCO's refs(*).p): no classes, no functions.

pickle.load would call whatever a file names; this unpickler allows only builtin containers and
scalars, so a tampered refs file raises DatasetError instead of running code.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

from derrvos_core.errors import DatasetError

# Python 2 pickles (RefCOCO's) name the builtins module "__builtin__".
_ALLOWED = {(m, n) for m in ("builtins", "__builtin__")
            for n in ("list", "dict", "tuple", "set", "frozenset", "str", "bytes", "int", "float", "bool",
                      "complex")}


class _PlainDataUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file, encoding="latin1")  # Python 2 byte strings (RefCOCO's) decode losslessly
        self._path = path

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise DatasetError(f"{self._path}: refuses to load '{module}.{name}' (only plain lists, dicts, "
                           f"strings and numbers are allowed in this file)")

    def persistent_load(self, pid):
        raise DatasetError(f"{self._path}: persistent ids are not allowed in this file")


def load_plain_pickle(path) -> object:
    """The plain-data content of a pickle file; DatasetError on a missing, corrupt or unsafe file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return _PlainDataUnpickler(io.BytesIO(path.read_bytes()), path).load()
    except DatasetError:
        raise
    except Exception as exc:  # truncated or garbage files raise many kinds of errors
        raise DatasetError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
