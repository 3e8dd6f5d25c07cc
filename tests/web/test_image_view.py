"""The image view on real PostgreSQL and Redis: the page, composite renderings that change
with channels, contrast and outlines, regions at full resolution, plate thumbnails, and the
permission path (a plate or image the user may not read answers 404 on every pixel route)."""

from __future__ import annotations

import re

import numpy as np
from flask.testing import FlaskClient

from tests.web.pages_fixtures import Web, finish_run, submit, web
from tests.web.pngs import decode_rgb

__all__ = ["web"]


def _png(c: FlaskClient, url: str) -> np.ndarray:
    r = c.get(url)
    assert r.status_code == 200, (url, r.get_data(as_text=True)[:300])
    assert r.mimetype == "image/png"
    return decode_rgb(r.get_data())


def test_image_page_shows_every_channel_scale_and_fields(web: Web) -> None:
    c = web.client("demo")
    truth = web.stack.manifest.plates[0]  # type: ignore[attr-defined]
    r = c.get(f"/plates/{web.demo_plate}/wells/B3/image")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for i, name in enumerate(truth.channels):
        assert f'id="ch-on-{i}" checked' in html and f">{name}</label>" in html
    assert 'data-width="256" data-height="256"' in html
    assert 'data-pixel-size="0.65" data-unit="µm"' in html  # OMERO's physicalsizex
    assert "Field 1</a>" in html and "Field 2</a>" in html
    assert 'aria-current="page" data-field="0"' in html
    assert "omero-web-link" not in html  # OMERO_WEB_URL unset
    assert "No run of this plate yet" in html
    second = c.get(f"/plates/{web.demo_plate}/wells/b3/image?field=1").get_data(as_text=True)
    assert 'aria-current="page" data-field="1"' in second and "field 2 of 2" in second
    assert c.get(f"/plates/{web.demo_plate}/wells/B3/image?field=7").status_code == 404
    assert c.get(f"/plates/{web.demo_plate}/wells/Z99/image").status_code == 404


def test_renders_follow_channels_contrast_region_and_outlines(web: Web) -> None:
    c = web.client("demo")
    base = f"/plates/{web.demo_plate}/wells/B3/fields/0/render.png"
    both = _png(c, f"{base}?c=0|0000ff|auto|auto&c=1|00ff00|auto|auto")
    assert both.shape == (256, 256, 3)
    only_blue = _png(c, f"{base}?c=0|0000ff|auto|auto")
    assert only_blue[:, :, 1].max() == 0 and only_blue[:, :, 2].max() > 0
    assert both[:, :, 1].max() > 0 and not np.array_equal(both, only_blue)
    nothing = _png(c, base)
    assert nothing.max() == 0
    # a wider window darkens the image; a narrow one saturates it
    wide = _png(c, f"{base}?c=0|ffffff|0|65535")
    narrow = _png(c, f"{base}?c=0|ffffff|0|50")
    assert wide.mean() < only_blue[:, :, 2].mean() < narrow.mean()
    # a region at full resolution is the same pixels as the crop of the whole field
    crop = _png(c, f"{base}?c=0|ffffff|0|4000&x=40&y=60&w=50&h=30")
    whole = _png(c, f"{base}?c=0|ffffff|0|4000")
    assert crop.shape == (30, 50, 3) and np.array_equal(crop, whole[60:90, 40:90])
    half = _png(c, f"{base}?c=0|ffffff|0|4000&step=2")
    assert half.shape == (128, 128, 3) and np.array_equal(half, whole[::2, ::2])
    # outlines of a run's segmentation are drawn in yellow
    run_id = submit(web.platform, "demo", web.demo_plate)
    finish_run(web.platform, run_id)
    drawn = _png(c, f"{base}?c=0|0000ff|auto|auto&outlines={run_id}")
    yellow = (drawn == np.array([255, 214, 0], dtype=np.uint8)).all(axis=2)
    assert yellow.sum() > 20 and not (only_blue == [255, 214, 0]).all(axis=2).any()
    page = c.get(f"/plates/{web.demo_plate}/wells/B3/image").get_data(as_text=True)
    assert f'<option value="{run_id}" selected>run {run_id}' in page
    # bad requests are refused with a reason
    for bad in ("c=9|ffffff|auto|auto", "c=0|fff|auto|auto", "c=0|ffffff|10|5",
                "c=0|ffffff|auto|auto&x=-4", "outlines=abc", "c=0|ffffff|nan|5"):
        r = c.get(f"{base}?{bad}")
        assert r.status_code == 422, (bad, r.status_code)
    # alice (same lab) may read the plate but not demo's run: no outlines from it
    alice = web.client("alice")
    assert alice.get(f"{base}?c=0|ffffff|auto|auto").status_code == 200
    assert alice.get(f"{base}?outlines={run_id}").status_code == 404


def test_pixel_routes_refuse_plates_the_user_may_not_read(web: Web) -> None:
    outsider = web.client("outsider")
    cat = web.platform.catalog
    well = cat.wells(web.private_plate)[0]
    paths = (f"/plates/{web.private_plate}/wells/{well.label}/image",
             f"/plates/{web.private_plate}/wells/{well.label}/fields/0/render.png",
             f"/plates/{web.private_plate}/thumbnail.png")
    for path in paths:
        assert outsider.get(path).status_code == 200, path
    demo = web.client("demo")
    for path in paths:
        r = demo.get(path)
        assert r.status_code == 404, path
        assert r.mimetype == "text/html" and b"\x89PNG" not in r.get_data()
    for path in (f"/plates/{web.demo_plate}/thumbnail.png",
                 f"/plates/{web.demo_plate}/wells/A1/fields/0/render.png"):
        assert outsider.get(path).status_code == 404, path
    anonymous = web.client()
    r = anonymous.get(f"/plates/{web.demo_plate}/thumbnail.png")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_thumbnail_is_cached_on_disk(web: Web) -> None:
    from web.thumbnails import cache_dir

    c = web.client("demo")
    first = c.get(f"/plates/{web.demo_plate}/thumbnail.png")
    assert first.status_code == 200
    img = decode_rgb(first.get_data())
    assert img.shape[1] <= 240 and img.max() > 0
    cached = list(cache_dir(web.platform).glob(f"{web.demo_plate}-*.png"))
    assert len(cached) == 1 and cached[0].read_bytes() == first.get_data()
    cached[0].write_bytes(first.get_data() + b"")  # unchanged file is served as is
    assert c.get(f"/plates/{web.demo_plate}/thumbnail.png").get_data() == first.get_data()


def test_omero_web_link_when_configured(web: Web) -> None:
    from tests.web.pages_fixtures import login
    from web import create_app

    web.stack.env["OMERO_WEB_URL"] = "https://omero.example.org/"
    app = create_app(platform=web.stack.platform())
    app.config["TESTING"] = True
    c = app.test_client()
    login(c, "demo")
    html = c.get(f"/plates/{web.demo_plate}/wells/A1/image").get_data(as_text=True)
    image_id = web.platform.catalog.wells(web.demo_plate)[0].fields[0].image_id
    assert re.search(rf'id="omero-web-link" href="https://omero.example.org/webclient/'
                     rf'img_detail/{image_id}/"', html)


def test_wells_link_to_the_image_view(web: Web) -> None:
    c = web.client("demo")
    html = c.get(f"/plates/{web.demo_plate}").get_data(as_text=True)
    links = re.findall(r'<a class="well present" data-well="(\w+)"[^>]*\n?\s*'
                       rf'href="/plates/{web.demo_plate}/wells/(\w+)/image"', html)
    assert len(links) == 96 and all(a == b for a, b in links)
    run_id = submit(web.platform, "demo", web.demo_plate)
    finish_run(web.platform, run_id)
    res = c.get(f"/runs/{run_id}/results?well=C4").get_data(as_text=True)
    assert f'href="/plates/{web.demo_plate}/wells/C4/image?run={run_id}"' in res
