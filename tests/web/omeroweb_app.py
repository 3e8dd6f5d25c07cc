"""Configure and drive a real OMERO.web (the ``omero-web`` package) with the
``omero_platequeue`` app, without an OMERO server. Run as a script: Django's settings are
process-global, so each configuration gets a process of its own.

``python omeroweb_app.py configure OMERODIR COMMAND...`` runs each ``omero config ...``
command (one string each) through omero-py's own CLI and ``config`` plugin, in process:
the ``omero`` script refuses to run as root, as CI does, and only its root check is left
out. ``append`` on an ``omero.web.*`` key starts from OMERO.web's default, as it does there.

``python omeroweb_app.py probe OMERODIR SPEC_JSON`` starts Django with
``omeroweb.settings`` (which reads ``OMERODIR/etc/grid/config.xml`` like a deployed
OMERO.web) and prints one JSON object: the app's URL and what it resolves to, the
"Open with" options OMERO.web serves its web client, the answer to an anonymous request,
and for each request in SPEC (``{"key": SESSION_KEY, "requests": {name: [[k, v], ...]}}``)
the view's status, headers and page.

The view is decorated with OMERO.web's ``login_required``, which joins the user's OMERO
session on the OMERO server (Ice). Without a server it is reached the one way the
decorator offers: a ``conn`` keyword argument, which it takes as the connection already
made (its documented short cut for tests and stacked views), so the authentication itself
is not exercised here; the anonymous request shows that the view is behind it.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from types import SimpleNamespace
from typing import Any


def configure(omerodir: str, commands: list[str]) -> None:
    os.environ["OMERODIR"] = omerodir
    from omero.cli import CLI
    from omero.plugins.prefs import PrefsControl

    cli = CLI()
    cli.register("config", PrefsControl, "OMERO configuration")
    for command in commands:
        words = shlex.split(command)
        assert words[:2] == ["omero", "config"], command
        cli.invoke(words[1:], strict=True)


class _Conn:
    """Stands for the BlitzGateway connection ``login_required`` would have joined."""

    def __init__(self, key: str) -> None:
        self._key = key

    def getEventContext(self) -> Any:  # noqa: N802 - BlitzGateway's name
        return SimpleNamespace(sessionUuid=self._key)


def probe(omerodir: str, spec: dict[str, Any]) -> dict[str, Any]:
    os.environ["OMERODIR"] = omerodir
    os.environ["DJANGO_SETTINGS_MODULE"] = "omeroweb.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client, RequestFactory
    from django.urls import resolve, reverse
    from omero_platequeue import settings as app_settings
    from omero_platequeue import views

    out: dict[str, Any] = {"installed": "omero_platequeue" in settings.INSTALLED_APPS,
                           "root_urlconf": settings.ROOT_URLCONF,
                           "setting": getattr(app_settings, "PLATEQUEUE_URL", None)}
    url = reverse("omero_platequeue_analyse")
    match = resolve(url)
    out["url"] = url
    out["resolves_to"] = f"{match.func.__module__}.{match.func.__qualname__}"
    out["login_url"] = reverse("weblogin")
    client = Client(raise_request_exception=False)  # a 500 is an answer too
    res = client.get(reverse("webgateway_open_with_options"))
    out["open_with"] = json.loads(res.content)["open_with_options"]
    res = client.get(url, {"plate": "1"})  # no OMERO.web session: the decorator's answer
    out["anonymous"] = {"status": res.status_code, "location": res.get("Location")}
    out["requests"] = {}
    factory = RequestFactory()
    for name, query in spec.get("requests", {}).items():
        request = factory.get(url, [tuple(pair) for pair in query])
        request.session = {}
        res = views.analyse(request, conn=_Conn(spec["key"]))
        out["requests"][name] = {
            "status": res.status_code, "location": res.get("Location"),
            "cache_control": res.get("Cache-Control"),
            "referrer_policy": res.get("Referrer-Policy"),
            "content_type": res.get("Content-Type"),
            "body": res.content.decode() if res.status_code != 302 else ""}
    return out


if __name__ == "__main__":
    if sys.argv[1] == "configure":
        configure(sys.argv[2], sys.argv[3:])
    else:
        print(json.dumps(probe(sys.argv[2], json.loads(sys.argv[3]))))
