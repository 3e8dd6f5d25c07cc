"""Ground truth of a generated demo/fixture repository.

A :class:`DemoManifest` lists the users, groups and plates the fixture created
and, per plate, per well label and field, the number of nuclei drawn.  It is
returned by :func:`platequeue.demo.build_demo` and written next to the
data as ``manifest.json``::

    {
      "data_dir": "/tmp/demo", "db_url": "sqlite:////tmp/demo/omero.db", "seed": 0,
      "user_id": 2, "group_id": 3,
      "users": {"root": 0, "guest": 1, "demo": 2, ...},
      "groups": {"system": 0, "user": 1, "guest": 2, "demo-lab": 3, ...},
      "plates": [{"id": 1101, "name": "Demo plate 1", "rows": 8, "columns": 12,
                  "fields": 2, "group_id": 3, "owner_id": 2, "backend": "romio",
                  "pixels_type": "uint16", "size_x": 256, "size_y": 256,
                  "channels": ["DAPI", "GFP"],
                  "wells": {"A1": 10001, ...},
                  "images": {"A1": [50001, 50002], ...},
                  "counts": {"A1": [7, 12], ...}}]
    }
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class PlateTruth:
    """One generated plate and its per-(well, field) nuclei counts."""

    id: int
    name: str
    rows: int
    columns: int
    fields: int
    group_id: int
    owner_id: int
    backend: str
    pixels_type: str
    size_x: int
    size_y: int
    channels: list[str]
    screen_id: int | None = None
    wells: dict[str, int] = field(default_factory=dict)
    images: dict[str, list[int]] = field(default_factory=dict)
    counts: dict[str, list[int]] = field(default_factory=dict)
    acquisitions: list[int] = field(default_factory=list)

    def count(self, label: str, field_index: int) -> int:
        """Ground-truth nuclei count of (well *label*, *field_index*)."""
        return self.counts[label][field_index]

    @property
    def total_nuclei(self) -> int:
        return sum(sum(v) for v in self.counts.values())


@dataclass
class DemoManifest:
    """Everything a test or the demo command needs to know about the fixture."""

    data_dir: str
    db_url: str | None
    seed: int
    user_id: int
    group_id: int
    users: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    plates: list[PlateTruth] = field(default_factory=list)

    def plate(self, plate_id: int) -> PlateTruth:
        """The plate with this id (``KeyError`` if absent)."""
        for p in self.plates:
            if p.id == plate_id:
                return p
        raise KeyError(plate_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write JSON to *path* (default ``<data_dir>/manifest.json``)."""
        target = Path(path) if path is not None else Path(self.data_dir) / "manifest.json"
        target.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))
        return target

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DemoManifest:
        plates = [PlateTruth(**p) for p in data.get("plates", [])]
        rest = {k: v for k, v in data.items() if k != "plates"}
        return cls(**rest, plates=plates)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DemoManifest:
        """Read a manifest written by :meth:`write`."""
        return cls.from_dict(json.loads(Path(path).read_text()))
