"""Server-rendered pages: plates, one plate's well grid, run history; shared page helpers.

Every page checks the signed-in user may read what it shows through
:mod:`platequeue.accounts.policy` (runs through :func:`web.access.run_for`, as the JSON API does).
Pages answer errors as HTML (``error.html``); the JSON API keeps its JSON errors.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, InternalServerError

from platequeue import runs as run_service
from platequeue.accounts import policy
from platequeue.errors import PlatequeueError
from platequeue.omero import PlateInfo, WellRef, well_label
from web import browse
from web.auth import Identity, platform

bp = Blueprint("pages", __name__)
log = logging.getLogger(__name__)


# -- helpers shared by the page blueprints --------------------------------------------------
def page_identity() -> Identity:
    """The signed-in user; the browser is sent to sign in otherwise."""
    ident: Identity | None = g.get("identity")
    if ident is None:
        here = request.full_path if request.query_string else request.path
        abort(redirect(url_for("auth.login", next=here)))
    return ident


def readable_plate(ident: Identity, plate_id: int) -> PlateInfo:
    """The plate if OMERO lets this user read it; 404 otherwise (existence is not leaked)."""
    return policy.readable_plate(platform(), ident.omero_user_id, plate_id)


ERROR_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed here",
                409: "Not now", 422: "Check your input", 429: "Slow down",
                500: "Something went wrong"}


def wants_json() -> bool:
    """JSON errors under ``/api/`` and for every client that does not ask for HTML by name
    (scripts, ``curl``, ``fetch`` polls); the HTML page for browsers, which always do."""
    if request.path.startswith("/api/") or request.path.endswith(".json"):
        return True
    return not any(value == "text/html" for value, _q in request.accept_mimetypes)


def install_app_error_pages(app: Flask) -> None:
    """App-wide error answers: ``{"error": …}`` under ``/api/`` (and for JSON clients), the
    ``error.html`` page for browsers, for 4xx/5xx raised anywhere (unknown URLs included)."""

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        code = exc.code or 500
        if wants_json():
            return jsonify(error=exc.description or exc.name), code
        return render_error(code, exc.description or exc.name)

    @app.errorhandler(PlatequeueError)
    def _domain(exc: PlatequeueError) -> Any:
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if wants_json():
            return jsonify(error=str(exc)), exc.status, headers
        body, code = render_error(exc.status, str(exc))
        return body, code, headers

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError) -> Any:
        original = getattr(exc, "original_exception", None)
        if original is not None:
            log.error("unhandled error on %s %s", request.method, request.path,
                      exc_info=original)
        message = "The server hit an error; it has been logged. Try again in a moment."
        if wants_json():
            return jsonify(error=message), 500
        return render_error(500, message)


def render_error(code: int, message: str) -> Any:
    """The HTML error page; a bare page if the full layout cannot render (say, the database
    behind the signed-in user is down)."""
    title = ERROR_TITLES.get(code, "Something went wrong")
    try:
        return render_template("error.html", code=code, message=message, title=title), code
    except Exception:
        log.exception("error page failed to render")
        body = (f"<!doctype html><html lang=en><title>{code} {escape(title)}</title>"
                f"<h1>{escape(title)}</h1><p>{escape(message)}</p><p><a href=/>Start</a></p>")
        return body, code


def install_error_pages(blueprint: Blueprint) -> None:
    """HTML error pages for this blueprint's views (403, 404, domain refusals)."""

    @blueprint.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return render_error(exc.code or 500, exc.description or exc.name)

    @blueprint.errorhandler(PlatequeueError)
    def _domain(exc: PlatequeueError) -> Any:
        body, code = render_error(exc.status, str(exc))
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return body, code, headers


install_error_pages(bp)


def as_utc(value: str | datetime | None) -> datetime | None:
    """An ISO timestamp (or datetime) as an aware UTC datetime; the store's are aware, and
    a value without a zone is taken as UTC."""
    if value is None or value == "":
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@bp.app_template_filter("when")
def when_filter(value: str | datetime | None) -> Markup:
    """``<time datetime="…Z">2026-01-02 03:04 UTC</time>``; the page script shows it in the
    reader's own time zone (named), the UTC text stays for no-JavaScript readers."""
    at = as_utc(value)
    if at is None:
        return Markup('<span class="muted">—</span>')
    iso = at.isoformat().replace("+00:00", "Z")
    return Markup('<time datetime="{}">{}</time>').format(iso, at.strftime("%Y-%m-%d %H:%M UTC"))


def duration_seconds(start: str | datetime | None, end: str | datetime | None,
                     now: datetime | None = None) -> float | None:
    """Seconds from ``start`` to ``end`` (to ``now`` while unfinished); None before a start."""
    begun = as_utc(start)
    if begun is None:
        return None
    ended = as_utc(end) or now or datetime.now(UTC)
    return max(0.0, (ended - begun).total_seconds())


@bp.app_template_filter("duration")
def duration_filter(seconds: float | None) -> str:
    return "—" if seconds is None else run_service.estimate.human_seconds(seconds)


def grid(plate: PlateInfo, wells: list[WellRef]) -> list[list[dict[str, Any]]]:
    """Rows of cells for the plate's full geometry; absent wells have ``well`` None."""
    by_pos = {(w.row, w.column): w for w in wells}
    nrows = max([plate.rows, *[w.row + 1 for w in wells]])
    ncols = max([plate.columns, *[w.column + 1 for w in wells]])
    return [[{"row": r, "column": c, "label": well_label(r, c), "well": by_pos.get((r, c))}
             for c in range(ncols)] for r in range(nrows)]


def row_letters(n: int) -> list[str]:
    return [well_label(r, 0)[:-1] for r in range(n)]


# -- pages ------------------------------------------------------------------------------------
@bp.route("/")
def index() -> Any:
    if g.get("identity") is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for("pages.plates"))


@bp.route("/favicon.ico")
def favicon() -> Any:
    return send_from_directory(str(current_app.static_folder), "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)


@bp.route("/plates")
def plates() -> Any:
    """Plates the user may read, grouped by screen, filtered by ``q`` (name or screen)."""
    ident = page_identity()
    q = request.args.get("q", "").strip()
    found = platform().catalog.plates_for_user(ident.omero_user_id)
    if q:
        needle = q.lower()
        found = [p for p in found if needle in p.name.lower()
                 or needle in (p.screen_name or "").lower() or needle == str(p.id)]
    groups: dict[str, list[PlateInfo]] = defaultdict(list)
    for p in found:
        groups[p.screen_name or "Not in a screen"].append(p)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] == "Not in a screen", kv[0]))
    return render_template("plates.html", groups=ordered, q=q, count=len(found),
                           last_runs=browse.last_runs(platform(), ident),
                           acquisitions=browse.acquisitions(platform(), [p.id for p in found]))


@bp.route("/plates/<int:plate_id>")
def plate(plate_id: int) -> Any:
    ident = page_identity()
    info = readable_plate(ident, plate_id)
    wells = platform().catalog.wells(plate_id)
    # A corrupt or hostile geometry is not laid out (submit refuses it the same way): a
    # notice and a list of at most as many wells as the largest grid holds instead.
    geometry = run_service.geometry_problem(info, wells)
    cells = [] if geometry else grid(info, wells)
    fields = sorted({len(w.fields) for w in wells})
    from platequeue.omero import plate_problem  # loads the pixel readers: this page only

    problem = plate_problem(platform().catalog, platform().reader, plate_id)
    listed = wells[:run_service.MAX_ROWS * run_service.MAX_COLUMNS] if geometry else []
    return render_template("plate.html", plate=info, cells=cells, wells=wells,
                           field_counts=fields, columns=len(cells[0]) if cells else 0,
                           letters=row_letters(len(cells)), problem=problem,
                           geometry=geometry, listed=listed,
                           last_run=browse.last_runs(platform(), ident).get(plate_id),
                           acquisitions=browse.acquisitions(platform(), [plate_id]).get(
                               plate_id, []))


@bp.route("/runs", endpoint="runs")
def runs_page() -> Any:
    """The user's runs (everyone's for operators), refreshed live from the JSON API."""
    ident = page_identity()
    who = None if ident.sees_everything else ident.omename
    found = run_service.list_runs(platform(), omename=who, limit=200)
    return render_template("runs.html", runs=found,
                           durations={r.run_id: duration_seconds(r.started_at, r.finished_at)
                                      for r in found})
