"""celery-beat: the static schedule lives in :func:`platequeue.celery_app.celery_config`.

Run exactly one: ``platequeue beat`` (``celery -A workers beat``).
"""
