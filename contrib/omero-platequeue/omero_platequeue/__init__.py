"""OMERO.web app: "Analyse with platequeue" on a plate or screen.

OMERO.web's "Open with" menu calls :func:`omero_platequeue.views.analyse` with the
selected objects (``?plate=1&plate=2``, ``?screen=3``); the view sends the browser to
platequeue's submit form with those plates preselected and the user's OMERO session key
(``bsession``), which platequeue validates, signs in with and removes from the address.
The URL is built by :mod:`omero_platequeue.handover` (no Django, no OMERO).
"""

__version__ = "0.1.0"
