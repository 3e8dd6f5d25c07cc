"""``platequeue`` command line: the operator's entry to every part of the platform.

One click group (:func:`main`, in :mod:`platequeue.cli._common`); the command modules
register on it when this package is imported; domain modules are imported inside the
commands, so ``platequeue --help`` loads neither Celery nor SQLAlchemy models. The process
supervisor behind ``up``, ``worker``, ``beat`` and ``web`` and the Flower launcher are
public for tests and ops.
See ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.cli import _commands, _schedules, _services, _sources
from platequeue.cli._common import main
from platequeue.cli._flower import INSTALL_HINT, flower_installed, flower_proc
from platequeue.cli._procs import Proc, Supervisor, beat_proc, celery_argv, web_proc, worker_procs

_services.register(main)
_schedules.register(main)
_sources.register(main)
del _commands  # registered on main by importing it

__all__ = [
    "INSTALL_HINT",
    "Proc",
    "Supervisor",
    "beat_proc",
    "celery_argv",
    "flower_installed",
    "flower_proc",
    "main",
    "web_proc",
    "worker_procs",
]
