"""What the API returns, as typed dictionaries (the schemas of ``/api/openapi.json``).

:class:`platequeue.client.Client` methods return these, so editors and type checkers
know the keys: ``client.run(7)["wells_done"]`` is an ``int``.
"""

# No ``from __future__ import annotations``: Python 3.11 reads NotRequired only from
# evaluated annotations.
from typing import Any, NotRequired, TypedDict

__all__ = ["Me", "Pipeline", "Plate", "Results", "Run", "StepArtifact", "Well"]


class Me(TypedDict):
    """``GET /api/me``: who the token belongs to."""

    user_id: int
    omename: str
    omero_user_id: int
    role: str
    scope: str
    via: str


class Plate(TypedDict):
    """``GET /api/plates``: a plate the token's OMERO user may read."""

    id: int
    name: str
    rows: int
    columns: int
    wells: int
    fields: int
    channels: list[Any]
    screen: str | None


class Pipeline(TypedDict):
    """``GET /api/pipelines``: a pipeline and its declared parameters."""

    name: str
    version: str
    hash: str
    gpu: bool
    enabled: bool
    parameters: dict[str, Any]


class Run(TypedDict):
    """``GET /api/runs/{id}``: a run's state and well counts."""

    run_id: int
    status: str
    user: str
    plate_id: int
    plate_name: str
    pipeline: str
    pipeline_version: str
    pipeline_hash: str
    params: dict[str, Any]
    queue: str
    wells_total: int
    wells_done: int
    wells_failed: int
    wells_running: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    wells_skipped: NotRequired[int]


class Well(TypedDict):
    """``GET /api/runs/{id}/wells``: one well of a run."""

    well: str
    row: int
    column: int
    status: str
    attempts: int
    error: str | None
    device: str | None
    worker: str | None


class Results(TypedDict):
    """``GET /api/runs/{id}/results?format=json``: column names and one row per field."""

    columns: list[str]
    rows: list[dict[str, Any]]


class StepArtifact(TypedDict):
    """``POST /api/steps``: an uploaded custom step."""

    artifact_id: int
    name: str
    sha256: str
    created_at: str
