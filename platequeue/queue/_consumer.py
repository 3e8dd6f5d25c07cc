"""The worker's consumer and task requests: Celery's own, surviving a Redis connection lost
while wells run.

Celery 5.7 closes the broken connection in ``on_connection_error_after_connected`` after
``collect()`` has already detached its transport. When Redis is still down at that moment,
``collect()`` could not finish closing the default channel (its queue cleanup needs the
server), so the second close tries to restore the channel's unacknowledged messages
through the detached transport and raises ``AttributeError``, which Celery does not
ignore: the worker logs "Unrecoverable error", stops consuming for good, and, with a hung
well in its pool, never exits. Found by ``tests/faults/test_broker_restart.py``.

Here that close is made safe: an ``AttributeError`` from closing an already collected
connection is logged and dropped, so Celery goes on to cancel the running wells
(``worker_cancel_long_running_tasks_on_connection_loss``) and to reconnect. The messages
that restore could not put back stay in the broker's unacked set, where the sweeper's
lost-message check and the visibility timeout find them (``platequeue.runs``).

The same detached transport breaks the late acknowledgement (or rejection) of a message
that came through the lost connection, when its well ends after the reconnection: the
channel rebuilds its client pool from the transport and raises ``AttributeError`` inside
the event loop, which again stops the worker. :class:`Request` counts that error among the
connection errors Celery already logs and drops for an acknowledgement ("Couldn't ack"):
the message is the broker's to restore, the well row is the sweeper's to repair. Every task
uses it through :class:`Task` (the app's ``task_cls``).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task as CeleryTask
from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.request import Request as CeleryRequest

logger = logging.getLogger(__name__)

__all__ = ["Consumer", "Request", "Task"]


class Consumer(CeleryConsumer):
    """Celery's consumer, with a connection-loss close that cannot kill the worker."""

    def on_connection_error_after_connected(self, exc: BaseException) -> Any:
        connection = self.connection
        if connection is not None:
            close = connection.close

            def close_collected() -> None:
                try:
                    close()
                except AttributeError as err:  # the transport was detached by collect()
                    logger.warning("broker connection lost: its channel could not be closed "
                                   "cleanly (%s); unacknowledged messages stay on the "
                                   "broker for the sweeper", err)

            connection.close = close_collected
            connection.release = close_collected
        return super().on_connection_error_after_connected(exc)


class Request(CeleryRequest):
    """Celery's task request; acknowledging through a detached channel is a connection
    error (logged, dropped), not a crash of the worker's event loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        errors: tuple[type[BaseException], ...] = tuple(self.connection_errors)
        self._connection_errors = (*errors, AttributeError)


class Task(CeleryTask):
    """The app's task class: Celery's, with :class:`Request`."""

    Request = "platequeue.queue._consumer:Request"
