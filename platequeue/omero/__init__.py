"""OMERO data plane: schema subset, metadata catalog, permissions, repository readers.

Callers pass engines, paths and clients; nothing here reads settings.
"""

from platequeue.omero.manifest import DemoManifest, PlateTruth
from platequeue.omero.metadata import OmeroCatalog, OmeroNotFoundError, well_label
from platequeue.omero.model import Experimenter, FieldRef, PixelsInfo, PlateInfo, WellRef
from platequeue.omero.readers import RepositoryReader, Source, open_field, repository_roots

__all__ = [
    "DemoManifest",
    "Experimenter",
    "FieldRef",
    "OmeroCatalog",
    "OmeroNotFoundError",
    "PixelsInfo",
    "PlateInfo",
    "PlateTruth",
    "RepositoryReader",
    "Source",
    "WellRef",
    "open_field",
    "repository_roots",
    "well_label",
]
