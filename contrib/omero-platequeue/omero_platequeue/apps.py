"""The Django application (OMERO.web adds it from ``omero.web.apps``)."""

from django.apps import AppConfig


class PlatequeueAppConfig(AppConfig):
    name = "omero_platequeue"
    label = "omero_platequeue"  # OMERO.web serves the app's URLs under /omero_platequeue/
    verbose_name = "platequeue"
