"""Read a pickle that may only hold plain data (RefCOCO's refs(*).p): no classes, no functions.

pickle.load would call whatever a file names; this unpickler allows only builtin containers and
scalars, so a tampered refs file raises DatasetError instead of running code. Those builtins are
called with checked arguments, so a small file cannot make a large object (`bytes(800_000_000)` in
29 bytes, `list` over it): a call may only convert a value the file itself spelled out (no integer
sizes), and nothing it builds may hold more items than the file has bytes. Files over MAX_PICKLE_BYTES
are refused unread.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

from derrvos_core.errors import DatasetError

#: Largest pickle read (RefCOCO's refs files are 20-70 MB).
MAX_PICKLE_BYTES = 1 << 30

_ALLOWED = {"list": list, "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset, "str": str,
            "bytes": bytes, "int": int, "float": float, "bool": bool, "complex": complex}
# Python 2 pickles (RefCOCO's) name the builtins module "__builtin__".
_MODULES = ("builtins", "__builtin__")
# Arguments a guarded call may convert: values, never a size to allocate.
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
_PLAIN = _SIZED + (int, float, complex, bool)


class _PlainDataUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path, size: int):
        super().__init__(file, encoding="latin1")  # Python 2 byte strings (RefCOCO's) decode losslessly
        self._path, self._size = path, size

    def find_class(self, module: str, name: str):
        if module in _MODULES and name in _ALLOWED:
            return self._guarded(_ALLOWED[name])
        raise DatasetError(f"{self._path}: refuses to load '{module}.{name}' (only plain lists, dicts, "
                           f"strings and numbers are allowed in this file)")

    def persistent_load(self, pid):
        raise DatasetError(f"{self._path}: persistent ids are not allowed in this file")

    def _guarded(self, kind: type):
        """`kind` as a call that converts only plain values no larger than the file (see module doc)."""
        def build(*args, **kwargs):
            if kwargs or len(args) > 2:
                raise DatasetError(f"{self._path}: {kind.__name__}() with keyword or extra arguments is "
                                   f"not plain data")
            for arg in args:
                if isinstance(arg, int) and not isinstance(arg, bool) and kind in (bytes, str):
                    raise DatasetError(f"{self._path}: {kind.__name__}({arg}) builds data the file does not "
                                       "hold; refused (a pickle bomb?)")
                if not isinstance(arg, _PLAIN):
                    raise DatasetError(f"{self._path}: {kind.__name__}() of {type(arg).__name__} is not "
                                       f"plain data")
                if isinstance(arg, _SIZED) and len(arg) > self._size:
                    raise DatasetError(f"{self._path}: {kind.__name__}() of {len(arg)} items from a "
                                       f"{self._size}-byte file; refused (a pickle bomb?)")
            return kind(*args)
        build.__name__ = kind.__name__
        return build


def load_plain_pickle(path) -> object:
    """The plain-data content of a pickle file; DatasetError on a missing, corrupt, oversized or unsafe
    file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    size = path.stat().st_size
    if size > MAX_PICKLE_BYTES:
        raise DatasetError(f"{path}: {size} bytes; at most {MAX_PICKLE_BYTES} are read")
    try:
        return _PlainDataUnpickler(io.BytesIO(path.read_bytes()), path, size).load()
    except DatasetError:
        raise
    except Exception as exc:  # truncated or garbage files raise many kinds of errors
        raise DatasetError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
