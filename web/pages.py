"""Server-rendered pages: plates, one plate's well grid, run history; shared page helpers.

Every page checks the signed-in user may read what it shows through
:mod:`platequeue.accounts.policy` (runs through :func:`web.access.run_for`, as the JSON API does).
Pages answer errors as HTML (``error.html``); the JSON API keeps its JSON errors.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from platequeue import runs as run_service
from platequeue.accounts import policy
from platequeue.errors import PlatequeueError
from platequeue.omero import PlateInfo, WellRef, well_label
from web.auth import Identity, platform

bp = Blueprint("pages", __name__)


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


def render_error(code: int, message: str) -> Any:
    return render_template("error.html", code=code, message=message), code


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
    return render_template("plates.html", groups=ordered, q=q, count=len(found))


@bp.route("/plates/<int:plate_id>")
def plate(plate_id: int) -> Any:
    ident = page_identity()
    info = readable_plate(ident, plate_id)
    wells = platform().catalog.wells(plate_id)
    cells = grid(info, wells)
    fields = sorted({len(w.fields) for w in wells})
    return render_template("plate.html", plate=info, cells=cells, wells=wells,
                           field_counts=fields, columns=len(cells[0]) if cells else 0,
                           letters=row_letters(len(cells)))


@bp.route("/runs", endpoint="runs")
def runs_page() -> Any:
    """The user's runs (everyone's for operators), refreshed live from the JSON API."""
    ident = page_identity()
    who = None if ident.sees_everything else ident.omename
    return render_template("runs.html", runs=run_service.list_runs(platform(), omename=who,
                                                                   limit=200))
