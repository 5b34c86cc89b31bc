"""The error convention of every command-line tool (``tools/``, ``data_prep/``).

A tool's ``main(argv)`` is decorated with :func:`command`.  An error the
project raises on purpose -- bad input or an unusable file -- then ends the
tool with exactly one line on stderr, ``<tool>: <message>``, and exit status
2 (argparse's own errors are exit status 2 too).  Those errors are:

- ``ValueError`` and its subclasses: ``ModelError``, ``DatasetError``,
  ``SequenceError``, ``ResultsError``, and the checks of arguments;
- ``OSError``: a file or folder that is missing, unreadable or cannot be written;
- ``CaffeUnavailable`` (pycaffe is not built), and an ``ImportError`` of an
  optional third-party package (onnx, onnxruntime, trax, ...);
- :class:`ToolError`, raised by the tools themselves.

Ctrl-C ends a tool with one line and exit status 130.  Anything else is a bug
and keeps its traceback; so does a broken import inside ``goturn_caffe``.  Set
``GOTURN_CAFFE_TRACEBACK=1`` to see the traceback of every error.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from goturn_caffe.caffe_env import CaffeUnavailable

BAD_INPUT = 2
INTERRUPTED = 130
TRACEBACK_VARIABLE = "GOTURN_CAFFE_TRACEBACK"


class ToolError(Exception):
    """An error a tool reports as it is, in one line."""


def one_line(text: str) -> str:
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def describe(exc: BaseException) -> Optional[str]:
    """The one-line message of an error raised on purpose; None for anything else."""
    if isinstance(exc, (ToolError, ValueError, CaffeUnavailable)):
        text = str(exc)
    elif isinstance(exc, ImportError):
        if not exc.name or exc.name.split(".")[0] == "goturn_caffe":
            return None     # our own package is broken: a bug, keep its traceback
        text = f"{exc} (an optional package: pip install it into the project's environment)"
    elif isinstance(exc, OSError):
        if exc.filename is not None and exc.strerror:
            text = f"{exc.filename}: {exc.strerror}"
        else:
            text = str(exc)
    else:
        return None
    return one_line(text) or type(exc).__name__


def _argument_type(convert, accept, wanted: str):
    """An argparse ``type`` that converts with ``convert`` and keeps values ``accept``
    allows; anything else is argparse's one-line error, saying what was ``wanted``."""
    import argparse

    def check(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    check.__name__ = wanted  # argparse names the type in some messages
    return check


positive_int = _argument_type(int, lambda v: v >= 1, "a whole number of at least 1")
non_negative_int = _argument_type(int, lambda v: v >= 0, "a whole number of at least 0")
positive_float = _argument_type(float, lambda v: math.isfinite(v) and v > 0,
                                "a finite number > 0")


@contextmanager
def prefixed(prefix: str) -> Iterator[None]:
    """Put ``prefix: `` before the message of an error raised on purpose inside
    the block (e.g. which benchmark or experiment failed)."""
    try:
        yield
    except Exception as exc:
        message = describe(exc)
        if message is None:
            raise
        raise ToolError(f"{prefix}: {message}") from exc


def command(main: Callable = None, *, name: Optional[str] = None):
    """Decorate a tool's ``main(argv=None) -> int`` with the convention above;
    ``name`` defaults to the file ``main`` is defined in (``track.py``)."""
    if main is None:
        return functools.partial(command, name=name)
    tool = name or Path(main.__code__.co_filename).name

    @functools.wraps(main)
    def wrapper(argv=None) -> int:
        try:
            return main(argv)
        except KeyboardInterrupt as exc:
            detail = one_line(str(exc))
            print(f"{tool}: interrupted{': ' + detail if detail else ''}", file=sys.stderr)
            return INTERRUPTED
        except Exception as exc:
            message = describe(exc)
            if message is None or os.environ.get(TRACEBACK_VARIABLE):
                raise
            print(f"{tool}: {message}", file=sys.stderr)
            return BAD_INPUT

    return wrapper
