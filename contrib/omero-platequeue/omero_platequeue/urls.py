"""URLs of the app; OMERO.web includes them under ``/omero_platequeue/``."""

from django.urls import re_path

from omero_platequeue import views

urlpatterns = [
    # omero.web.open_with names this URL: ["platequeue", "omero_platequeue_analyse", {...}]
    re_path(r"^analyse/$", views.analyse, name="omero_platequeue_analyse"),
]
