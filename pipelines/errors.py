"""Exceptions raised by :mod:`pipelines`."""

from __future__ import annotations

__all__ = ["PipelineError", "PipelineParamError", "PipelineSpecError", "UnknownPipeline"]


class PipelineError(ValueError):
    """Base class of every error this package raises on bad input."""

    @property
    def detail(self) -> str:
        """The message without its ``pipeline 'name': `` prefix, for a caller that names
        the pipeline itself (a form field, a submission)."""
        text = str(self)
        return text.split(": ", 1)[1] if text.startswith("pipeline ") and ": " in text else text


class UnknownPipeline(PipelineError):
    """No pipeline of that name is registered (the message lists the known names)."""


class PipelineSpecError(PipelineError):
    """A pipeline spec is malformed; the message names the step and parameter."""


class PipelineParamError(PipelineError):
    """A parameter override is unknown or has a bad value; the message names it."""
