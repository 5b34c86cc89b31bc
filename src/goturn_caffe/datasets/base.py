"""The common interface of every dataset reader.

A video is a list of :class:`Frame` (frame path, box or None); a still-image
set is a list of :class:`StillImage` (image path, boxes).  Readers never stop
on one bad entry: they record it in a :class:`SkipReport` and go on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from goturn_caffe.geometry.boxes import Box


@dataclass(frozen=True)
class Frame:
    path: str
    box: Optional[Box] = None
    # Raw ground-truth region as written in the file (VOT polygon / rectangle);
    # the VOT protocol measures overlap against it, not against ``box``.
    region: Optional[tuple] = None
    tags: frozenset = frozenset()
    # The target is not visible in this frame (GOT-10k ``absence.label``, LaSOT's
    # full occlusion or out of view): scorers apply their own rule to it, and
    # training never draws it.
    absent: bool = False
    # GOT-10k's visible fraction level (``cover.label``, 0..8; 0 = not visible);
    # None where the dataset has none.
    cover: Optional[int] = None


@dataclass
class Video:
    name: str
    frames: list  # list[Frame]
    category: str = ""
    # The sequence's attribute labels (OTB's "IV", "OCC", ...; LaSOT's and UAV123's),
    # for per-attribute scores; empty where the dataset has none.
    attributes: tuple = ()

    def __len__(self) -> int:
        return len(self.frames)

    def annotated_indices(self) -> list:
        """Indices of the frames that carry a box, in order."""
        return [i for i, f in enumerate(self.frames) if f.box is not None]


@dataclass
class StillImage:
    path: str
    boxes: list  # list[Box]
    # Size the annotation was made for; boxes are rescaled when the real
    # image differs (the authors' ImageNet loader does this on load).
    annotated_size: Optional[tuple] = None  # (width, height)


@dataclass
class SkipReport:
    """What a reader skipped and why; printed as a summary at the end of a load."""

    entries: list = field(default_factory=list)  # list[(where, reason)]

    def skip(self, where: str, reason: str) -> None:
        self.entries.append((str(where), reason))

    def __len__(self) -> int:
        return len(self.entries)

    def summary(self) -> str:
        if not self.entries:
            return "nothing skipped"
        counts = Counter(reason.split(":")[0] for _, reason in self.entries)
        parts = ", ".join(f"{n} x {reason}" for reason, n in counts.most_common())
        return f"skipped {len(self.entries)}: {parts}"

    def details(self, per_reason: int = 5) -> str:
        """The skipped entries grouped by reason, at most ``per_reason`` examples each (0 = all)."""
        groups: dict = {}
        for where, reason in self.entries:
            groups.setdefault(reason.split(":")[0], []).append(f"{where}: {reason}")
        lines = []
        for reason, entries in sorted(groups.items(), key=lambda item: -len(item[1])):
            lines.append(f"{reason} ({len(entries)}):")
            shown = entries if per_reason <= 0 else entries[:per_reason]
            lines += [f"  {entry}" for entry in shown]
            if len(shown) < len(entries):
                lines.append(f"  ... and {len(entries) - len(shown)} more")
        return "\n".join(lines)
