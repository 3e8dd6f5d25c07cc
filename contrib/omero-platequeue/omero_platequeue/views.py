"""The "Analyse with platequeue" view: from OMERO.web's "Open with" to platequeue's submit
form, signed in with the same OMERO session."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.shortcuts import render
from omeroweb.decorators import login_required

from omero_platequeue import handover
from omero_platequeue import settings as app_settings

TEMPLATE = "omero_platequeue/error.html"


def _no_store(response):
    # the redirect carries the OMERO session key: keep it out of caches and Referer headers
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _error(request, status, title, message, hint=""):
    context = {"title": title, "message": message, "hint": hint}
    return _no_store(render(request, TEMPLATE, context, status=status))


def session_key(conn):
    """The OMERO session key of the signed-in user's connection."""
    return conn.getEventContext().sessionUuid


# allowPublic=False: never hand OMERO.webpublic's shared public user over to platequeue
@login_required(allowPublic=False)
def analyse(request, conn=None, **kwargs):
    """Redirect to ``<omero.web.platequeue.url>/submit?plate=…|screen=…&bsession=…``.

    400 when the query names no plate or screen or a bad id; 503 with an error page when
    ``omero.web.platequeue.url`` is not set (or not an http(s) URL)."""
    try:
        base = handover.check_base_url(getattr(app_settings, "PLATEQUEUE_URL", ""))
    except handover.InvalidBaseUrl as exc:
        return _error(request, 503, "platequeue is not configured", str(exc),
                      "An OMERO.web administrator sets it with: omero config set "
                      "omero.web.platequeue.url https://platequeue.example.org")
    try:
        selection = handover.parse_selection(
            {kind: request.GET.getlist(kind) for kind in handover.KINDS})
    except handover.InvalidSelection as exc:
        return _error(request, 400, "Nothing to analyse", str(exc),
                      "Select one or more plates, or a screen, then choose "
                      "Open with… > Analyse with platequeue.")
    target = handover.handover_url(base, selection, session_key(conn))
    return _no_store(HttpResponseRedirect(target))
