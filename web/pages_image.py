"""The image view of a well: every channel of a field with its colour and contrast, the
segmentation outlines of a run, zoom and pan at full resolution, a scale bar, and plate
thumbnails for the plates list.

Pixels are read from the binary repository with the platform's reader and rendered here
as PNGs (:mod:`web.image_render`); the browser asks for the whole field, then for the
visible region at full resolution when zoomed in. Every pixel route first checks, with
OMERO's read rules, that the signed-in user may read the plate and the image: a plate or
image they may not read answers 404, like one that does not exist.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for

from pipelines import registry
from pipelines.errors import PipelineError
from platequeue import omero
from platequeue import runs as run_service
from platequeue.accounts import Action
from platequeue.omero import FieldRef, PixelsInfo, PlateInfo, WellRef
from web import image_render as ir
from web.access import run_for
from web.auth import Identity, platform
from web.pages import install_error_pages, page_identity, readable_plate
from web.pages_preview import png_rgb, segment
from web.thumbnails import thumbnail_png

bp = Blueprint("pages_image", __name__)
install_error_pages(bp)

def readable_field(ident: Identity, plate_id: int, label: str,
                   field: int) -> tuple[PlateInfo, WellRef, FieldRef, PixelsInfo]:
    """The plate, well, field and pixels if the user may read them; 404 otherwise."""
    plate = readable_plate(ident, plate_id)
    catalog = platform().catalog
    well = next((w for w in catalog.wells(plate_id) if w.label.upper() == label.upper()), None)
    ref = next((f for f in well.fields if f.field == field), None) if well else None
    if well is None or ref is None:
        abort(404, f"plate {plate_id} has no well {label!r} with a field {field + 1}")
    if not catalog.can_read_image(ident.omero_user_id, ref.image_id):
        abort(404, f"no image {ref.image_id} that you may read")
    return plate, well, ref, catalog.pixels(ref.image_id)


def physical_size(pixels_id: int) -> tuple[float, str] | None:
    """OMERO's stored pixel size in X (value, unit symbol), or None when unknown."""
    return omero.physical_size(platform().catalog.engine, pixels_id)


def _key(*parts: object) -> tuple[object, ...]:
    """A cache key that also names the repository (ids repeat across OMERO servers)."""
    return (str(platform().settings.omero_data_dir), platform().settings.omero_db_url, *parts)


def planes(pixels: PixelsInfo) -> Any:
    return ir.PLANES.get(_key("planes", pixels.id),
                         lambda: ir.projection(platform().read_field(pixels, native=True)))


def stats(pixels: PixelsInfo) -> list[dict[str, float]]:
    return ir.STATS.get(_key("stats", pixels.id), lambda: ir.channel_stats(planes(pixels)))


def outline_runs(ident: Identity, plate_id: int) -> list[run_service.RunView]:
    """Runs of this plate the user may see, newest first (their segmentation can be drawn)."""
    who = None if ident.sees_everything else ident.omename
    return [r for r in run_service.list_runs(platform(), omename=who, limit=200)
            if r.plate_id == plate_id and r.pipeline in registry.names()]


def _labels(ident: Identity, plate: PlateInfo, pixels: PixelsInfo, run_id: int) -> Any:
    view = run_for(ident, run_id, Action.PREVIEW, image_id=pixels.image_id)
    if view.plate_id != plate.id:
        abort(404, f"run {run_id} is not a run of plate {plate.id}")
    pipe = registry.get(view.pipeline)
    key = _key("labels", pixels.id, pipe.hash, json.dumps(view.params, sort_keys=True, default=str))

    def make() -> Any:
        field = platform().read_field(pixels, native=True)
        names = list(plate.channels) if len(plate.channels) == field.shape[0] else []
        return segment(pipe, field, channels=names, params=view.params)[1]

    return ir.LABELS.get(key, make)


@bp.app_template_global("image_url")
def image_url(plate_id: int, label: str, field: int = 0, run_id: int | None = None) -> str:
    """The image view of one field of a well, for any template (plate, run, results)."""
    return url_for("pages_image.image", plate_id=plate_id, label=label, field=field or None,
                   run=run_id)


@bp.route("/plates/<int:plate_id>/wells/<label>/image")
def image(plate_id: int, label: str) -> Any:
    """The viewer page for one field of a well (``?field=`` 0-based, ``?run=`` outlines)."""
    ident = page_identity()
    field_arg = request.args.get("field", "0")
    field = int(field_arg) if field_arg.isdigit() and len(field_arg) < 6 else 0
    plate, well, ref, pixels = readable_field(ident, plate_id, label, field)
    found = stats(pixels)
    names = [plate.channels[i] if i < len(plate.channels) else f"C{i}"
             for i in range(len(found))]
    channels = [{"index": i, "name": n, "colour": ir.default_colour(n, i), **found[i]}
                for i, n in enumerate(names)]
    runs = outline_runs(ident, plate_id)
    run_arg = request.args.get("run", "")
    chosen_run = next((r for r in runs if str(r.run_id) == run_arg), runs[0] if runs else None)
    web = platform().settings.omero_web_url
    return render_template(
        "image.html", plate=plate, well=well, ref=ref, pixels=pixels, channels=channels,
        field=field, runs=runs, chosen_run=chosen_run, size=physical_size(pixels.id),
        omero_web=f"{web}/webclient/img_detail/{ref.image_id}/" if web else None,
        render_url=url_for("pages_image.render", plate_id=plate_id, label=well.label,
                           field=field))


@bp.route("/plates/<int:plate_id>/wells/<label>/fields/<int:field>/render.png")
def render(plate_id: int, label: str, field: int) -> Any:
    """A composite PNG: ``c=index|RRGGBB|low|high`` per shown channel (``auto`` windows),
    ``outlines=<run id>``, and a region ``x, y, w, h`` sampled every ``step`` pixels."""
    ident = page_identity()
    plate, _, _, pixels = readable_field(ident, plate_id, label, field)
    try:
        specs = ir.parse_specs(request.args.getlist("c"), pixels.size_c)
        reg = ir.region(pixels.size_x, pixels.size_y, request.args.to_dict())
    except ValueError as exc:
        abort(422, str(exc))
    labels = None
    run_arg = request.args.get("outlines", "")
    if run_arg:
        if not run_arg.isdigit() or len(run_arg) > 9:
            abort(422, "outlines must be a run id")
        try:
            labels = _labels(ident, plate, pixels, int(run_arg))
        except PipelineError as exc:
            abort(422, f"cannot segment this field with run {run_arg}'s pipeline: {exc}")
    data = planes(pixels)
    rgb = ir.compose(data, specs, stats(pixels), reg, labels)
    return Response(png_rgb(rgb), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=300"})


@bp.route("/plates/<int:plate_id>/thumbnail.png")
def thumbnail(plate_id: int) -> Any:
    """A small overview of the plate's first field with images (cached on disk)."""
    ident = page_identity()
    plate = readable_plate(ident, plate_id)
    catalog = platform().catalog
    ref = next((f for w in catalog.wells(plate_id) for f in w.fields
                if catalog.can_read_image(ident.omero_user_id, f.image_id)), None)
    if ref is None:
        abort(404, f"plate {plate_id} has no image that you may read")
    png = thumbnail_png(platform(), plate, catalog.pixels(ref.image_id))
    return Response(png, mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=3600"})
