#!/usr/bin/env python3
"""Make the attributee 0.1.10 wheel importable on Python 3.11 and newer.

The official VOT toolkit (vot-toolkit 0.9.0, our test-time reference for the VOT
scores) imports ``attributee``.  Its only wheel on PyPI, 0.1.10, fails at import on
Python >= 3.11: it uses ``typing.dataclass_transform`` as if it were a plain class
decorator (``@dataclass_transform`` instead of ``@dataclass_transform()``), so
``import vot`` raises ``TypeError: dataclass_transform() takes 0 positional
arguments``.  On Python 3.10, where ``typing`` has no ``dataclass_transform``, the
package falls back to an identity decorator and works.  The release before it,
0.1.9, exists only as an sdist, and the set-up installs wheels only.

So the set-up installs the 0.1.10 wheel and this script replaces that one import by
the same identity decorator that Python 3.10 gets (the decorator is a static-typing
hint and changes nothing at run time).  The file's SHA-256 is checked before the
edit, so a different attributee release is left alone with one line; running it
again changes nothing.

Usage: ``patch_attributee.py VENV_PYTHON``.  Exit 0 when patched or already
patched, 2 with one line otherwise.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

# attributee-0.1.10-py3-none-any.whl: attributee/__init__.py as released.
RELEASED_SHA256 = "b840503111e2003a84683b8e79f1c3504d113ce927627c5a93719f0c0bd10b11"
BROKEN = "    from typing import dataclass_transform as dataclass\n"
FIXED = ("    # goturn-caffe: was `from typing import dataclass_transform as dataclass`, which\n"
         "    # fails at import on Python >= 3.11 (see caffe_build/patch_attributee.py).\n"
         "    raise ImportError\n")


def patch_file(path: Path) -> str:
    """Patch ``attributee/__init__.py`` at ``path``; returns what was done."""
    text = path.read_text()
    if FIXED in text:
        return "already patched"
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest != RELEASED_SHA256:
        raise ValueError(f"{path}: not attributee 0.1.10 as released (SHA-256 {digest[:12]}...); "
                         "left unpatched")
    if text.count(BROKEN) != 1:
        raise ValueError(f"{path}: the line to patch is not there once; left unpatched")
    path.write_text(text.replace(BROKEN, FIXED))
    return "patched"


def main(argv: list) -> int:
    if len(argv) != 1:
        print("usage: patch_attributee.py VENV_PYTHON", file=sys.stderr)
        return 2
    found = subprocess.run(
        [argv[0], "-c", "import importlib.util as u; s = u.find_spec('attributee'); "
                        "print(s.origin if s else '')"],
        capture_output=True, text=True)
    origin = found.stdout.strip()
    if found.returncode or not origin:
        print(f"patch_attributee.py: attributee is not installed for {argv[0]}", file=sys.stderr)
        return 2
    try:
        print(f"[venv] attributee: {patch_file(Path(origin))}")
    except (OSError, ValueError) as exc:
        print(f"patch_attributee.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
