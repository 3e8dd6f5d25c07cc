"""celery-beat: the static schedule lives in :func:`platequeue.queue.celery_config`.

Run exactly one: ``platequeue beat`` (``celery -A workers beat``).
"""
