"""The one settings source: defaults, derived values, and one-line refusals."""

from __future__ import annotations

import pytest

from platequeue.settings import SettingsError, load_settings


def test_lost_messages_are_resent_after_ten_minutes_by_default() -> None:
    settings = load_settings({})
    assert settings.visibility_timeout > 3600  # what Redis alone would wait
    assert settings.requeue_after_s == 600
    assert load_settings({"REQUEUE_AFTER": "5"}).requeue_after_s == 5


def test_oidc_needs_endpoints_when_a_client_is_set() -> None:
    assert not load_settings({}).oauth.enabled
    on = load_settings({"OAUTH_CLIENT_ID": "pq",
                        "OAUTH_DISCOVERY_URL": "https://idp.example.org/.well-known/x"})
    assert on.oauth.enabled and on.oauth.scope == "openid email profile"
    with pytest.raises(SettingsError, match="OAUTH_CLIENT_ID is set but"):
        load_settings({"OAUTH_CLIENT_ID": "pq", "OAUTH_AUTH_URL": "https://idp/authorize"})
    with pytest.raises(SettingsError, match="OAUTH_TOKEN_URL must be a http/https URL"):
        load_settings({"OAUTH_TOKEN_URL": "ftp://idp/token"})


@pytest.mark.parametrize(("env", "message"), [
    ({"QUOTA_CONCURRENT_RUNS": "0"}, "QUOTA_CONCURRENT_RUNS=0 must be at least 1"),
    ({"SESSION_TTL": "ten"}, "SESSION_TTL='ten' is not an integer"),
    ({"RETENTION_DAYS": "-1"}, "RETENTION_DAYS=-1 must be at least 0"),
    ({"OMERO_INPLACE_ROOTS": "/mnt/a:relative/b"},
     "OMERO_INPLACE_ROOTS: 'relative/b' is not an absolute path"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_inplace_roots_are_a_colon_separated_list() -> None:
    assert load_settings({}).omero_inplace_roots == ()
    got = load_settings({"OMERO_INPLACE_ROOTS": "/mnt/a: /mnt/b ::"}).omero_inplace_roots
    assert [str(p) for p in got] == ["/mnt/a", "/mnt/b"]
