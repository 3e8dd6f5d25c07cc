"""Python client for the platequeue JSON API.

>>> from platequeue.client import Client
>>> c = Client("https://platequeue.example.org", token="pq_...")  # doctest: +SKIP
>>> [run] = c.submit([c.plates()[0]["id"]], "nuclei-count")  # doctest: +SKIP
>>> c.wait(run["run_id"], timeout=600)["status"]  # doctest: +SKIP
'succeeded'
>>> csv_text = c.results(run["run_id"], format="csv")  # doctest: +SKIP
>>> table = c.results_table(run["run_id"])  # pandas DataFrame  # doctest: +SKIP

Every refusal raises :class:`ClientError` with the HTTP status and the server's message.
Connection errors and busy servers are retried (:mod:`platequeue.client_retry`); return
values are typed (:mod:`platequeue.client_types`).
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

import requests

from platequeue.client_retry import RetryPolicy
from platequeue.client_types import Me, Pipeline, Plate, Results, Run, Well
from platequeue.states import TERMINAL_RUN

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["TERMINAL", "Client", "ClientError", "RetryPolicy"]

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
    retry : RetryPolicy
        When to try again: connection errors, 502/503/504 (reads only) and 429 after its
        ``Retry-After`` (bounded); ``RetryPolicy(retries=0)`` turns retries off.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 session: requests.Session | None = None,
                 retry: RetryPolicy | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                 json: Any = None) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(method, f"{self.base_url}/api{path}",
                                                params=params, json=json, timeout=self.timeout)
            except requests.RequestException as exc:
                delay = self.retry.error_delay(method, exc, attempt)
                if delay is None:
                    raise
                time.sleep(delay)
                continue
            if response.status_code < 400:
                return response
            delay = self.retry.status_delay(method, response.status_code,
                                            response.headers.get("Retry-After"), attempt)
            if delay is None:
                raise ClientError(response.status_code, _message(response))
            response.close()
            time.sleep(delay)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def me(self) -> Me:
        """Who the token belongs to: ``omename``, ``role``, ``scope``."""
        found: Me = self._json("GET", "/me")
        return found

    def plates(self) -> list[Plate]:
        """Plates the token's OMERO user may read."""
        found: list[Plate] = self._json("GET", "/plates")
        return found

    def pipelines(self) -> list[Pipeline]:
        """Built-in pipelines with their declared parameters."""
        found: list[Pipeline] = self._json("GET", "/pipelines")
        return found

    def runs(self, *, everyone: bool = False, limit: int = 50) -> list[Run]:
        """Runs, newest first (``everyone``: all users' runs, operators and admins only)."""
        found: list[Run] = self._json(
            "GET", "/runs", params={"all": "true" if everyone else "false", "limit": str(limit)})
        return found

    def submit(self, plate_ids: int | Iterable[int], pipeline: str, *,
               params: Mapping[str, Any] | None = None,
               channels: Mapping[str, str | int] | None = None,
               custom_step: int | None = None) -> list[Run]:
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

    def run(self, run_id: int) -> Run:
        """A run's state and well counts."""
        found: Run = self._json("GET", f"/runs/{int(run_id)}")
        return found

    def wait(self, run_id: int, timeout: float = 3600.0, *,
             interval: float = 1.0) -> Run:
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

    def wells(self, run_id: int) -> list[Well]:
        """Every well of the run: state, attempts, last error, device and worker."""
        found: list[Well] = self._json("GET", f"/runs/{int(run_id)}/wells")
        return found

    @overload
    def results(self, run_id: int, format: Literal["csv"] = ...) -> str: ...
    @overload
    def results(self, run_id: int, format: Literal["json"]) -> Results: ...
    @overload
    def results(self, run_id: int, format: Literal["parquet"]) -> bytes: ...

    def results(self, run_id: int, format: str = "csv") -> str | Results | bytes:
        """One row per well and field: CSV text, ``{"columns", "rows"}``, or Parquet bytes."""
        if format not in ("csv", "json", "parquet"):
            raise ValueError(f"format {format!r} must be csv, json or parquet")
        response = self._request("GET", f"/runs/{int(run_id)}/results",
                                 params={"format": format})
        if format == "json":
            found: Results = response.json()
            return found
        return response.content if format == "parquet" else response.text

    @overload
    def results_table(self, run_id: int, kind: Literal["pandas"]) -> pd.DataFrame: ...
    @overload
    def results_table(self, run_id: int, kind: Literal["arrow"]) -> pa.Table: ...
    @overload
    def results_table(self, run_id: int,
                      kind: Literal["auto"] = ...) -> pd.DataFrame | pa.Table: ...

    def results_table(self, run_id: int, kind: str = "auto") -> pd.DataFrame | pa.Table:
        """The results as a table: a pandas ``DataFrame`` or a pyarrow ``Table``.

        ``kind="auto"`` gives a DataFrame when pandas is installed, else a pyarrow Table.
        With pyarrow the Parquet download is used (typed columns, the run's metadata in
        ``table.schema.metadata``); with pandas alone, the CSV one. Raises ImportError
        naming what to install when neither is.
        """
        if kind not in ("auto", "pandas", "arrow"):
            raise ValueError(f"kind {kind!r} must be auto, pandas or arrow")
        pandas = _optional("pandas") if kind != "arrow" else None
        pyarrow = _optional("pyarrow")
        if kind == "pandas" and pandas is None:
            raise ImportError("results_table(kind='pandas') needs pandas: pip install pandas")
        if pyarrow is not None:
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(self.results(run_id, "parquet")))
            return table.to_pandas() if pandas is not None else table
        if kind == "arrow":
            raise ImportError("results_table(kind='arrow') needs pyarrow: pip install pyarrow")
        if pandas is None:
            raise ImportError("results_table needs pandas or pyarrow: pip install pandas")
        return pandas.read_csv(io.StringIO(self.results(run_id, "csv")))

    def cancel(self, run_id: int) -> Run:
        """Cancel a run; raises ``ClientError(409, ...)`` if it has already ended."""
        found: Run = self._json("POST", f"/runs/{int(run_id)}/cancel")
        return found

    def rerun_failed(self, run_id: int) -> Run:
        """Queue a partial or failed run's failed wells again."""
        found: Run = self._json("POST", f"/runs/{int(run_id)}/rerun-failed")
        return found


def _optional(name: str) -> Any:
    """The module ``name`` if it is installed, else None."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return response.text.strip()[:200] or response.reason or "request failed"
