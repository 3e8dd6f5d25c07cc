"""Celery worker entry: ``celery -A workers worker -Q cpu,maint`` (or ``-Q gpu``).

The parent process never initialises CUDA; pool children import CuPy lazily on first use.
"""

from platequeue.logs import configure_logging
from platequeue.platform import Platform, set_platform
from platequeue.queue import create_celery
from platequeue.settings import get_settings

configure_logging(get_settings())
app = create_celery(get_settings())
set_platform(Platform(get_settings(), _celery=app))

from beat import tasks as _beat_tasks  # noqa: E402,F401  (register maintenance tasks)
from workers import signals as _signals  # noqa: E402,F401
from workers import tasks as _tasks  # noqa: E402,F401

__all__ = ["app"]
