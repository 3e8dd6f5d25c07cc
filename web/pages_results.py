"""Results: a plate heatmap for any feature with outliers, a plate summary (Z′ from named
control wells, row/column trends), a well drill-down, downloads.

Control wells come from the query string, ``pos=A1,A2&neg=H11:H12`` (see
:mod:`web.plate_stats`). Opened while the run is not over, the page says its results are
partial."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from markupsafe import Markup

from pipelines import registry
from platequeue import runs as run_service
from platequeue.accounts import Action
from platequeue.errors import Invalid
from platequeue.runs import results_parquet
from platequeue.states import TERMINAL_RUN
from web.access import run_for
from web.auth import platform
from web.pages import install_error_pages, page_identity, row_letters
from web.pages_heatmap import (
    NO_VALUE,
    OUTLIER_Z,
    PENDING,
    features,
    heatmap_svg,
    trend_svg,
    well_values,
)
from web.pages_preview import overlay, png_rgb, segment
from web.pages_runs import well_states
from web.plate_stats import format_number, parse_wells, scale_for, trends, units, z_prime

bp = Blueprint("pages_results", __name__)
install_error_pages(bp)


def _geometry(view: run_service.RunView, rows: list[dict[str, Any]]) -> tuple[int, int]:
    plate = platform().catalog.plate(view.plate_id)
    nrows = max([plate.rows if plate else 0, *[int(r["row"]) + 1 for r in rows]])
    ncols = max([plate.columns if plate else 0, *[int(r["column"]) + 1 for r in rows]])
    return nrows, ncols


@bp.route("/runs/<int:run_id>/results")
def results(run_id: int) -> Any:
    ident = page_identity()
    view = run_for(ident, run_id)
    states = {w["well"]: w["status"] for w in well_states(run_id, ident)}
    columns, rows = run_service.results(platform(), run_id)
    names = features(columns)
    feature = request.args.get("feature") or ("count" if "count" in names else
                                              (names[0] if names else ""))
    if names and feature not in names:
        abort(404, f"run {run_id} has no feature {feature!r}")
    values = well_values(rows, feature) if feature else []
    nrows, ncols = _geometry(view, rows)
    letters = row_letters(nrows)
    selected = request.args.get("well")
    detail = [r for r in rows if r["well"] == selected] if selected else []
    if selected and not detail:
        abort(404, f"run {run_id} has no results for well {selected!r}")
    chosen = next((v for v in values if v.label == selected), None)
    pos_spec, neg_spec = request.args.get("pos", ""), request.args.get("neg", "")
    controls: dict[str, str] = {}
    control_error = None
    try:
        controls.update(dict.fromkeys(parse_wells(pos_spec, nrows, ncols), "pos"))
        for label in parse_wells(neg_spec, nrows, ncols):
            if label in controls:
                raise Invalid(f"{label} is named both a positive and a negative control")
            controls[label] = "neg"
    except Invalid as exc:
        control_error, controls = str(exc), {}
    by_label = {v.label: v.value for v in values}
    zp = z_prime([by_label[k] for k, r in controls.items() if r == "pos" and k in by_label],
                 [by_label[k] for k, r in controls.items() if r == "neg" and k in by_label]) \
        if controls else None
    scale = scale_for([v.value for v in values])
    unit = units(feature)
    link = {"feature": feature, **({"pos": pos_spec} if pos_spec else {}),
            **({"neg": neg_spec} if neg_spec else {})}
    svg = heatmap_svg(values, rows=nrows, columns=ncols, feature=feature, row_names=letters,
                      scale=scale, unit=unit, states=states, controls=controls, link=link,
                      selected=selected) if values else ""
    trend = trends([(v.row, v.column, v.value) for v in values], nrows, ncols)
    charts = {"rows": trend_svg(trend.rows, letters, what="row", unit=unit),
              "columns": trend_svg(trend.columns, [str(c + 1) for c in range(ncols)],
                                   what="column", unit=unit)} if values else {}
    extremes = (min(values, key=lambda v: v.value), max(values, key=lambda v: v.value)) \
        if values else None
    kinds = Counter(_kind(states.get(label), label in by_label) for label in states)
    html = render_template(
        "results.html", run=view, features=names, feature=feature, svg=Markup(svg),
        values=values, columns=columns, outliers=[v for v in values if v.outlier],
        outliers_shown=sorted((v for v in values if v.outlier), key=lambda v: -abs(v.z))[:12],
        outlier_z=OUTLIER_Z, selected=selected, detail=detail, chosen=chosen,
        n_rows=len(rows), scale=scale, unit=unit, extremes=extremes, zp=zp,
        pos=pos_spec, neg=neg_spec, controls=controls, control_error=control_error,
        trend=trend, charts={k: Markup(v) for k, v in charts.items()}, kinds=kinds,
        in_progress=view.status not in TERMINAL_RUN,
        fmt=format_number, no_value=NO_VALUE, link=link)
    return html, 422 if control_error else 200


def _kind(status: str | None, has_value: bool) -> str:
    return "value" if has_value else ("absent" if status is None else
                                      "pending" if status in PENDING else
                                      status if status in ("failed", "cancelled") else "missing")


@bp.route("/runs/<int:run_id>/results.parquet")
def parquet(run_id: int) -> Any:
    ident = page_identity()
    view = run_for(ident, run_id)
    columns, rows = run_service.results(platform(), run_id)
    meta = {"platequeue.run_id": str(run_id), "platequeue.plate_id": str(view.plate_id),
            "platequeue.pipeline": view.pipeline,
            "platequeue.pipeline_version": view.pipeline_version,
            "platequeue.pipeline_hash": view.pipeline_hash}
    return Response(results_parquet(columns, rows, metadata=meta),
                    mimetype="application/vnd.apache.parquet", headers={
                        "Content-Disposition": f"attachment; filename=run-{run_id}.parquet"})


@bp.route("/runs/<int:run_id>/wells/<label>/fields/<int:field>/preview.png")
def preview(run_id: int, label: str, field: int) -> Any:
    """The field with the pipeline's label outlines (computed now, nothing stored)."""
    ident = page_identity()
    view = run_for(ident, run_id)
    catalog = platform().catalog
    well = next((w for w in catalog.wells(view.plate_id) if w.label == label), None)
    ref = next((f for f in well.fields if f.field == field), None) if well else None
    if ref is None:
        abort(404, f"plate {view.plate_id} has no well {label!r} field {field}")
    run_for(ident, run_id, Action.PREVIEW, image_id=ref.image_id)  # OMERO's rules on pixels
    pixels = catalog.pixels(ref.image_id)
    data = platform().read_field(pixels, native=True)
    plate = catalog.plate(view.plate_id)
    channels = list(plate.channels) if plate and len(plate.channels) == data.shape[0] else []
    plane, labels = segment(registry.get(view.pipeline), data, channels=channels,
                            params=view.params)
    return Response(png_rgb(overlay(plane, labels)), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=300"})
