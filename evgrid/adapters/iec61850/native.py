"""Direct calls into libiec61850 for the client calls that must not keep the GIL.

The binding keeps the GIL while a call blocks. For connect, close and destroy that is
more than slow: close and destroy wait for the library's connection thread, which may
itself be waiting for the GIL to run a report callback - a deadlock. ctypes releases
the GIL around foreign calls, so these three go through ctypes on the very library the
binding loaded (same process, same instance), with the binding's own handles.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Any

import pyiec61850


@functools.cache
def _library() -> ctypes.CDLL:
    package = Path(pyiec61850.__file__).resolve().parent
    candidates = sorted((package.parent / "pyiec61850_ng.libs").glob("libiec61850*.so*")) + sorted(
        package.glob("libiec61850*.so*")
    )
    if not candidates:
        raise ImportError(f"libiec61850 shared library not found next to {package}")
    library = ctypes.CDLL(str(candidates[0]))
    library.IedConnection_connect.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_char_p,
        ctypes.c_int,
    ]
    library.IedConnection_connect.restype = None
    library.IedConnection_close.argtypes = [ctypes.c_void_p]
    library.IedConnection_close.restype = None
    library.IedConnection_destroy.argtypes = [ctypes.c_void_p]
    library.IedConnection_destroy.restype = None
    return library


def _address(handle: Any) -> int:
    # A SWIG handle of an opaque pointer type converts to its address.
    return int(handle)


def connect(connection: Any, host: str, port: int) -> int:
    """IedConnection_connect without the GIL; returns the IedClientError code."""
    error = ctypes.c_int(0)
    _library().IedConnection_connect(_address(connection), ctypes.byref(error), host.encode("ascii"), port)
    return error.value


def close(connection: Any) -> None:
    """IedConnection_close without the GIL."""
    _library().IedConnection_close(_address(connection))


def destroy(connection: Any) -> None:
    """IedConnection_destroy without the GIL (the handle is invalid afterwards)."""
    _library().IedConnection_destroy(_address(connection))
