"""Demo data, out of the runtime path: a synthetic OMERO database and binary repository
(every storage kind and permission level, FS-imported plates read through Bio-Formats),
known nuclei counts, and the end-to-end demo
check. Used by ``platequeue demo-data``, ``platequeue up --demo`` and the tests; nothing in
the platform's runtime imports it (``docs/architecture.md``).
"""

from __future__ import annotations

from platequeue.demo import _formats as formats
from platequeue.demo import _fsformats as fsformats
from platequeue.demo import _schema as schema
from platequeue.demo._bfprobe import probe as bioformats_probe
from platequeue.demo._builder import FixtureBuilder
from platequeue.demo._demo import Check, check_counts, load_manifest, manifest_path, write_demo
from platequeue.demo._fixture import FS_PLATE_NAMES, build_demo, build_full
from platequeue.demo._fsimport import FsImportWriter, add_fake_plate
from platequeue.demo._manifest import DemoManifest, PlateTruth
from platequeue.demo._synth import (
    field_rng,
    make_field,
    max_nuclei,
    otsu_threshold,
    place_nuclei,
    reference_count,
)
from platequeue.demo._writers import blank_romio_plane, write_romio

__all__ = [
    "FS_PLATE_NAMES",
    "Check",
    "DemoManifest",
    "FixtureBuilder",
    "FsImportWriter",
    "PlateTruth",
    "add_fake_plate",
    "bioformats_probe",
    "blank_romio_plane",
    "build_demo",
    "build_full",
    "check_counts",
    "field_rng",
    "formats",
    "fsformats",
    "load_manifest",
    "make_field",
    "manifest_path",
    "max_nuclei",
    "otsu_threshold",
    "place_nuclei",
    "reference_count",
    "schema",
    "write_demo",
    "write_romio",
]
