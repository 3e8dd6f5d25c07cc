"""Gunicorn settings for the platequeue web app (``web.wsgi:app``).

compose: baked into the image at /etc/platequeue/gunicorn.conf.py.
systemd: ``gunicorn --config /opt/platequeue/app/templates/gunicorn.conf.py web.wsgi:app``.

Deployment knobs come from the process environment (the same .env file):
APP_PORT, LOG_LEVEL, and optionally GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_TIMEOUT, GUNICORN_BIND, FORWARDED_ALLOW_IPS (read by gunicorn itself).
"""

import multiprocessing
import os

# --- Socket ---------------------------------------------------------------------
# nginx is the only client: in compose it reaches web over the internal network,
# on systemd hosts over loopback (set GUNICORN_BIND=127.0.0.1:8080 there).
bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('APP_PORT', '8080')}")
backlog = 256

# --- Workers --------------------------------------------------------------------
# The web tier only reads the audit store and enqueues; threads cover slow OMERO
# or IdP round trips without many processes.
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Database engines and Redis clients are created after fork, in each worker.
preload_app = False
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (bounded memory growth), staggered.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files on tmpfs, not on a possibly slow container overlay.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# --- Requests -------------------------------------------------------------------
limit_request_line = 8190
limit_request_fields = 100
# Scheme/host from nginx's X-Forwarded-* headers (OAuth redirect URIs need https);
# FORWARDED_ALLOW_IPS in the environment says which peers gunicorn trusts.
proxy_protocol = False

# --- Logging: stdout/stderr, collected by docker or journald --------------------
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss "%(a)s" %({x-request-id}i)s'
# Masks OMERO session keys (a bsession= link's first request line) in the access log.
logger_class = "web.gunicorn_logging.RedactingLogger"
capture_output = True

proc_name = "platequeue-web"
