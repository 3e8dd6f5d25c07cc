"""Results page: heatmap cells and a planted outlier, well drill-down with a field preview,
Parquet equal to the CSV."""

from __future__ import annotations

import csv
import io
import re
import struct
import zlib

import numpy as np
import pyarrow.parquet as pq

from tests.web.pages_fixtures import Web, finish_run, submit, web
from web.pages_heatmap import robust_z
from web.pages_preview import outlines, png_rgb

__all__ = ["web"]


def _decode_png(data: bytes) -> np.ndarray:
    """Minimal decoder for the encoder's output (8-bit RGB, filter 0)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x02"
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    w, h = size
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w * 3 + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, 3)


def test_png_round_trip_and_outlines() -> None:
    img = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(_decode_png(png_rgb(img)), img)
    labels = np.zeros((6, 6), np.int32)
    labels[1:5, 1:5] = 1
    edge = outlines(labels)
    assert edge.sum() == 12 and not edge[2:4, 2:4].any()


def test_robust_z() -> None:
    z = robust_z([10, 11, 9, 10, 12, 10, 50])
    assert abs(z[-1]) > 3 and all(abs(v) < 3 for v in z[:-1])
    assert robust_z([5, 5, 5]) == [0.0, 0.0, 0.0]


def test_heatmap_one_cell_per_well_and_outlier(web: Web) -> None:
    run_id = submit(web.platform, "demo", web.demo_plate)
    means = finish_run(web.platform, run_id, {"D5": 500.0})
    c = web.client("demo")
    r = c.get(f"/runs/{run_id}/results?feature=count")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    cells = re.findall(r'<rect class="well[^"]*" data-well="([A-Z]+\d+)"', html)
    assert sorted(cells) == sorted(means) and len(cells) == 96
    outliers = re.findall(r'<rect class="well outlier[^"]*" data-well="([A-Z]+\d+)"', html)
    assert outliers == ["D5"]
    assert html.count('class="outlier-mark"') == 1
    assert "|z| &gt; 3" in html and 'class="colour-bar"' in html
    value = re.search(r'data-well="D5" data-value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert float(value) == 500.0
    # another feature re-renders; an unknown one is refused
    assert f'data-well="A1" data-value="{2 * means["A1"]!r}"' in c.get(
        f"/runs/{run_id}/results?feature=mean_area").get_data(as_text=True)
    assert c.get(f"/runs/{run_id}/results?feature=nope").status_code == 404


def test_drilldown_and_preview(web: Web) -> None:
    run_id = submit(web.platform, "demo", web.demo_plate)
    finish_run(web.platform, run_id, {"B3": 7.0})
    c = web.client("demo")
    html = c.get(f"/runs/{run_id}/results?feature=count&well=B3").get_data(as_text=True)
    assert 'id="drilldown"' in html and "<h2>Well B3</h2>" in html
    assert html.count('<td class="num">7</td>') == 2  # count, fields 0 and 1
    srcs = re.findall(r'src="(/runs/\d+/wells/B3/fields/\d/preview.png)"', html)
    assert len(srcs) == 2
    r = c.get(srcs[0])
    assert r.status_code == 200 and r.mimetype == "image/png"
    img = _decode_png(r.data)
    truth = web.stack.manifest.plates[0]  # type: ignore[attr-defined]
    assert img.shape == (truth.size_y, truth.size_x, 3)
    yellow = (img == np.array([255, 214, 0], np.uint8)).all(axis=2)
    assert yellow.sum() > 50  # the demo wells hold several nuclei, outlined
    assert c.get(f"/runs/{run_id}/wells/Z99/fields/0/preview.png").status_code == 404
    assert c.get(f"/runs/{run_id}/results?well=Z99").status_code == 404
    assert web.client("alice").get(srcs[0]).status_code == 404


def test_parquet_round_trips_to_the_csv_rows(web: Web) -> None:
    run_id = submit(web.platform, "demo", web.demo_plate)
    finish_run(web.platform, run_id)
    c = web.client("demo")
    html = c.get(f"/runs/{run_id}/results").get_data(as_text=True)
    assert f'href="/api/runs/{run_id}/results?format=csv"' in html
    assert f'href="/runs/{run_id}/results.parquet"' in html
    csv_rows = list(csv.DictReader(io.StringIO(
        c.get(f"/api/runs/{run_id}/results?format=csv").get_data(as_text=True))))
    r = c.get(f"/runs/{run_id}/results.parquet")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    table = pq.read_table(io.BytesIO(r.data))
    assert table.schema.metadata[b"platequeue.pipeline"] == b"nuclei-count"
    rows = table.to_pylist()
    assert len(rows) == len(csv_rows) == 192
    assert list(table.column_names) == list(csv_rows[0])
    for got, want in zip(rows, csv_rows, strict=True):
        assert {k: str(v) for k, v in got.items()} == want
