"""Python client for the platequeue JSON API.

>>> from platequeue.client import Client
>>> c = Client("https://platequeue.example.org", token="pq_...")  # doctest: +SKIP
>>> [run] = c.submit([c.plates()[0]["id"]], "nuclei-count")  # doctest: +SKIP
>>> c.wait(run["run_id"], timeout=600)["status"]  # doctest: +SKIP
'succeeded'
>>> csv_text = c.results(run["run_id"], format="csv")  # doctest: +SKIP

Every refusal raises :class:`ClientError` with the HTTP status and the server's message.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, overload

import requests

from platequeue.states import TERMINAL_RUN

__all__ = ["TERMINAL", "Client", "ClientError"]

TERMINAL = frozenset(s.value for s in TERMINAL_RUN)


class ClientError(Exception):
    """The API refused a request: ``status`` is the HTTP status, ``message`` its reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Client:
    """A session with the API as the owner of ``token`` (``platequeue token create``).

    Parameters
    ----------
    base_url : str
        Where the site is served, e.g. ``https://platequeue.example.org``.
    token : str
        An API token; submitting, cancelling and rerunning need a ``submit`` token.
    timeout : float
        Seconds to wait for each HTTP response.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 session: requests.Session | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                 json: Any = None) -> requests.Response:
        response = self.session.request(method, f"{self.base_url}/api{path}", params=params,
                                        json=json, timeout=self.timeout)
        if response.status_code >= 400:
            raise ClientError(response.status_code, _message(response))
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def me(self) -> dict[str, Any]:
        """Who the token belongs to: ``omename``, ``role``, ``scope``."""
        found: dict[str, Any] = self._json("GET", "/me")
        return found

    def plates(self) -> list[dict[str, Any]]:
        """Plates the token's OMERO user may read."""
        found: list[dict[str, Any]] = self._json("GET", "/plates")
        return found

    def pipelines(self) -> list[dict[str, Any]]:
        """Built-in pipelines with their declared parameters."""
        found: list[dict[str, Any]] = self._json("GET", "/pipelines")
        return found

    def runs(self, *, everyone: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Runs, newest first (``everyone``: all users' runs, operators and admins only)."""
        found: list[dict[str, Any]] = self._json(
            "GET", "/runs", params={"all": "true" if everyone else "false", "limit": str(limit)})
        return found

    def submit(self, plate_ids: int | Iterable[int], pipeline: str, *,
               params: Mapping[str, Any] | None = None,
               channels: Mapping[str, str | int] | None = None,
               custom_step: int | None = None) -> list[dict[str, Any]]:
        """Queue ``pipeline`` over every well of each plate; one run per plate, in order.

        ``channels`` maps a pipeline's channel role (``nuclei``) to a channel name or index.
        ``custom_step``: an id from :meth:`upload_step`, run on every field after the
        pipeline (developer role; the deployment must enable custom steps).
        Plates are submitted one by one: a refusal raises after the earlier plates queued.
        """
        ids = [plate_ids] if isinstance(plate_ids, int) else list(plate_ids)
        if not ids:
            raise ValueError("plate_ids is empty")
        body: dict[str, Any] = {"pipeline": pipeline, "params": dict(params or {}),
                                "channels": dict(channels or {})}
        if custom_step is not None:
            body["custom_step"] = int(custom_step)
        return [self._json("POST", "/runs", json={**body, "plate_id": pid}) for pid in ids]

    def upload_step(self, name: str, func: Callable[..., Any]) -> int:
        """Ship your own step function; returns its artifact id for ``submit(custom_step=)``.

        ``func(field)`` receives one field, shape (C, Z, Y, X), as a NumPy array (the
        ``custom`` queue runs on CPU) and returns a number (``custom.<name>``) or a dict of
        feature name to number (``custom.<name>.<feature>``). It is serialised with
        ``dill.dumps(func, recurse=True)``: imports it needs must happen inside it. Needs the
        developer role and a deployment with ``CUSTOM_STEPS=true``.
        """
        import dill

        if not callable(func):
            raise TypeError(f"func must be callable, got {type(func).__name__}")
        payload = base64.b64encode(dill.dumps(func, recurse=True)).decode("ascii")
        found = self._json("POST", "/steps", json={"name": name, "payload": payload})
        return int(found["artifact_id"])

    def run(self, run_id: int) -> dict[str, Any]:
        """A run's state and well counts."""
        found: dict[str, Any] = self._json("GET", f"/runs/{int(run_id)}")
        return found

    def wait(self, run_id: int, timeout: float = 3600.0, *,
             interval: float = 1.0) -> dict[str, Any]:
        """Poll until the run ends (succeeded, partial, failed, cancelled); return it.

        Raises ``TimeoutError`` if it has not ended after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            view = self.run(run_id)
            if view["status"] in TERMINAL:
                return view
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} still {view['status']} after {timeout}s")
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def wells(self, run_id: int) -> list[dict[str, Any]]:
        """Every well of the run: state, attempts, last error, device and worker."""
        found: list[dict[str, Any]] = self._json("GET", f"/runs/{int(run_id)}/wells")
        return found

    @overload
    def results(self, run_id: int, format: Literal["csv"] = ...) -> str: ...
    @overload
    def results(self, run_id: int, format: Literal["json"]) -> dict[str, Any]: ...
    @overload
    def results(self, run_id: int, format: Literal["parquet"]) -> bytes: ...

    def results(self, run_id: int, format: str = "csv") -> str | dict[str, Any] | bytes:
        """One row per well and field: CSV text, ``{"columns", "rows"}``, or Parquet bytes."""
        if format not in ("csv", "json", "parquet"):
            raise ValueError(f"format {format!r} must be csv, json or parquet")
        response = self._request("GET", f"/runs/{int(run_id)}/results",
                                 params={"format": format})
        if format == "json":
            found: dict[str, Any] = response.json()
            return found
        return response.content if format == "parquet" else response.text

    def cancel(self, run_id: int) -> dict[str, Any]:
        """Cancel a run; raises ``ClientError(409, ...)`` if it has already ended."""
        found: dict[str, Any] = self._json("POST", f"/runs/{int(run_id)}/cancel")
        return found

    def rerun_failed(self, run_id: int) -> dict[str, Any]:
        """Queue a partial or failed run's failed wells again."""
        found: dict[str, Any] = self._json("POST", f"/runs/{int(run_id)}/rerun-failed")
        return found


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return response.text.strip()[:200] or response.reason or "request failed"
