"""Results: a plate heatmap for any feature with outliers, a well drill-down, downloads."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from markupsafe import Markup

from pipelines import registry
from platequeue import runs as run_service
from platequeue.accounts import Action
from platequeue.runs import results_parquet
from web.access import run_for
from web.auth import platform
from web.pages import install_error_pages, page_identity, row_letters
from web.pages_heatmap import OUTLIER_Z, features, heatmap_svg, well_values
from web.pages_preview import overlay, png_rgb, segment

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
    columns, rows = run_service.results(platform(), run_id)
    names = features(columns)
    feature = request.args.get("feature") or ("count" if "count" in names else
                                              (names[0] if names else ""))
    if names and feature not in names:
        abort(404, f"run {run_id} has no feature {feature!r}")
    values = well_values(rows, feature) if feature else []
    nrows, ncols = _geometry(view, rows)
    selected = request.args.get("well")
    svg = heatmap_svg(values, rows=nrows, columns=ncols, feature=feature,
                      row_names=row_letters(nrows), link={"feature": feature},
                      selected=selected) if values else ""
    detail = [r for r in rows if r["well"] == selected] if selected else []
    if selected and not detail:
        abort(404, f"run {run_id} has no results for well {selected!r}")
    chosen = next((v for v in values if v.label == selected), None)
    return render_template("results.html", run=view, features=names, feature=feature,
                           svg=Markup(svg), values=values, columns=columns,
                           outliers=[v for v in values if v.outlier], outlier_z=OUTLIER_Z,
                           selected=selected, detail=detail, chosen=chosen,
                           n_rows=len(rows))


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
