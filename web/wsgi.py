"""WSGI entry for gunicorn: ``gunicorn web.wsgi:app``."""

from platequeue.logs import configure_logging
from platequeue.settings import get_settings
from web import create_app

configure_logging(get_settings())
app = create_app()
