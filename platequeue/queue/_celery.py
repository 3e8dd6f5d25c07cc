"""The Celery application and every setting that matters (``docs/architecture.md``)."""

from __future__ import annotations

from celery import Celery

from platequeue.queue._names import (
    CLEANUP_TASK,
    KEEPALIVE_TASK,
    RETENTION_TASK,
    SCHEDULES_TASK,
    SWEEP_TASK,
    WRITEBACK_TASK,
    Queue,
)
from platequeue.settings import Settings, get_settings


def soft_time_limit(settings: Settings) -> int:
    """Seconds before the soft time limit interrupts a well (30 s before the hard one)."""
    return max(5, settings.task_time_limit - 30)


def celery_config(settings: Settings) -> dict[str, object]:
    """Celery configuration derived from the settings; JSON only on the broker."""
    vt = settings.visibility_timeout
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": soft_time_limit(settings),
        "visibility_timeout": vt,
        "broker_transport_options": {"visibility_timeout": vt},
        "result_backend_transport_options": {"visibility_timeout": vt},
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # Celery's consumer, made to survive a Redis connection lost mid-run (see there)
        "worker_consumer": "platequeue.queue._consumer:Consumer",
        "broker_connection_retry_on_startup": True,
        "task_ignore_result": True,
        "result_expires": 3600,
        "task_default_queue": Queue.CPU.value,
        "task_routes": {
            WRITEBACK_TASK: {"queue": Queue.MAINT.value},
            SWEEP_TASK: {"queue": Queue.MAINT.value},
            CLEANUP_TASK: {"queue": Queue.MAINT.value},
            SCHEDULES_TASK: {"queue": Queue.MAINT.value},
            KEEPALIVE_TASK: {"queue": Queue.MAINT.value},
            RETENTION_TASK: {"queue": Queue.MAINT.value},
        },
        "worker_hijack_root_logger": False,
        "worker_max_tasks_per_child": settings.worker_max_tasks_per_child,
        "timezone": "UTC",
        # The sweep is not here: every worker process runs it (platequeue.runs.sweep_if_due).
        "beat_schedule": {
            "cleanup": {"task": CLEANUP_TASK, "schedule": 3600.0},
            # User schedules live in our table; this one entry fires the due ones (a stale
            # tick is dropped: the next one fires whatever is due, once).
            "schedules": {"task": SCHEDULES_TASK, "schedule": settings.schedule_tick_interval,
                          "options": {"expires": settings.schedule_tick_interval}},
            "omero-keepalive": {"task": KEEPALIVE_TASK,
                                "schedule": float(settings.omero_keepalive_interval),
                                "options": {"expires": float(settings.omero_keepalive_interval)}},
            "retention": {"task": RETENTION_TASK, "schedule": 3600.0},
        },
    }


def create_celery(settings: Settings | None = None) -> Celery:
    """Build the Celery app; tasks are ``@shared_task`` in ``workers`` and ``beat``."""
    settings = settings or get_settings()
    app = Celery("platequeue", set_as_current=True,
                 task_cls="platequeue.queue._consumer:Task")
    app.conf.update(celery_config(settings))
    return app
