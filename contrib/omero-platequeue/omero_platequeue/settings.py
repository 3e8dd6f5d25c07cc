"""The app's settings, read by OMERO.web from ``omero config`` like its own.

OMERO.web imports this module for every app in ``omero.web.apps`` and sets each
``CUSTOM_SETTINGS_MAPPINGS`` entry as an attribute of this module (its global name), from
the configured value or the default. ``omero.web.platequeue.url`` is checked when it is
used (the view shows an error page naming the setting), so a wrong value cannot stop
OMERO.web from starting.
"""


def _stripped(value):
    return str(value or "").strip()


CUSTOM_SETTINGS_MAPPINGS = {
    "omero.web.platequeue.url": [
        "PLATEQUEUE_URL",
        "",
        _stripped,
        (
            "The base URL of platequeue as browsers reach it, e.g. "
            "https://platequeue.example.org (with its path prefix, if any). "
            "'Analyse with platequeue' sends the browser to <url>/submit."
        ),
    ],
}
