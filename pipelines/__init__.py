"""Pure compute for platequeue: steps on NumPy or CuPy, pipeline specs, registry.

Imports nothing from Flask, Celery, SQLAlchemy or ``platequeue``.
"""

from pipelines import registry
from pipelines.engine import Pipeline
from pipelines.errors import (
    PipelineError,
    PipelineParamError,
    PipelineSpecError,
    UnknownPipeline,
)

__all__ = [
    "Pipeline",
    "PipelineError",
    "PipelineParamError",
    "PipelineSpecError",
    "UnknownPipeline",
    "registry",
]
