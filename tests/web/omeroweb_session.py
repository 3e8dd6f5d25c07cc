"""Create an OMERO.web session the way a signed-in OMERO.web does, with the real package.

Run as a script (Django's settings are process-global):
``python omeroweb_session.py OMERODIR OMERO_SESSION_KEY USER_ID``. OMERODIR holds the
``etc/grid/config.xml`` that ``omero config set`` wrote; ``omeroweb.settings`` reads it like
a deployed OMERO.web, so the session engine and the django-redis cache (its LOCATION,
KEY_PREFIX and VERSION) are OMERO.web's own. The connector is stored with
``omeroweb.connector.Connector.to_session``, as OMERO.web's login does; prints the
``sessionid`` cookie value.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from types import SimpleNamespace


def main(omerodir: str, omero_key: str, user_id: int) -> str:
    os.environ["OMERODIR"] = omerodir
    os.environ["DJANGO_SETTINGS_MODULE"] = "omeroweb.settings"
    import django

    django.setup()
    from django.conf import settings
    from omeroweb.connector import Connector

    engine = import_module(settings.SESSION_ENGINE)
    store = engine.SessionStore()
    request = SimpleNamespace(session=store)
    connector = Connector(server_id=1, is_secure=False, omero_session_key=omero_key,
                          user_id=user_id)
    connector.to_session(request)
    store["active_group"] = 3
    store.save()
    return str(store.session_key)


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
