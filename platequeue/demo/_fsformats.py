"""Instrument file sets for the fixture, written from each format's specification.

* :func:`write_companion`: a multi-file OME-TIFF plate, ``<name>.companion.ome`` (OME-XML
  with Plate -> Well -> WellSample -> ImageRef and one ``TiffData`` per plane naming its
  file by ``UUID FileName``) plus one TIFF per image whose description is a ``BinaryOnly``
  OME-XML pointing back at the companion (OME-TIFF specification, "companion file").
  Images are written in reverse well order, so the series order differs from the wells'.
* :func:`write_htd`: a MetaXpress plate, ``<name>.HTD`` (``"Key", value`` lines:
  ``XWells``/``YWells``, ``WellsSelection<row>``, ``XSites``/``YSites``,
  ``SiteSelection<row>``, ``Waves``, ``NWavelengths``, ``WaveName<n>``) plus one
  single-plane TIFF per (well, site, wavelength) named
  ``<name>_<A01>_s<site>_w<wave>.TIF`` (``_s`` only with several sites), as Bio-Formats'
  ``MetaxpressTiffReader`` expects.
* :func:`fake_name`: a Bio-Formats synthetic HCS plate (``.fake`` with plate parameters).

Each writer takes ``images``: ``(row, column, field, (C, Y, X) array)`` and returns
(the file a reader is initialised with, every file of the set), names relative to *folder*.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import tifffile

Image = tuple[int, int, int, np.ndarray]
OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _label(row: int, col: int) -> str:
    return f"{chr(ord('A') + row)}{col + 1}"


def write_companion(folder: Path, name: str, images: Sequence[Image], *, rows: int,
                    columns: int, channels: Sequence[str], pixels_type: str,
                    seed: int = 0) -> tuple[str, list[str]]:
    rng = np.random.default_rng([seed, 11])
    uid = lambda: f"urn:uuid:{uuid.UUID(bytes=rng.bytes(16), version=4)}"  # noqa: E731
    companion, master = f"{name}.companion.ome", uid()
    order = sorted(range(len(images)), key=lambda i: images[i][:3], reverse=True)
    files: list[str] = []
    image_xml: list[str] = []
    wells: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for k, i in enumerate(order):
        row, col, field, data = images[i]
        c_, y_, x_ = data.shape
        fname, fuid = f"{name}_{_label(row, col)}_f{field}.ome.tif", uid()
        desc = (f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{OME_NS}" UUID="{fuid}">'
                f'<BinaryOnly MetadataFile="{companion}" UUID="{master}"/></OME>')
        tifffile.imwrite(folder / fname, data, photometric="minisblack", description=desc,
                         metadata=None)
        files.append(fname)
        wells.setdefault((row, col), []).append((field, k))
        chans = "".join(f'<Channel ID="Channel:{k}:{c}" Name={quoteattr(channels[c])} '
                        f'SamplesPerPixel="1"/>' for c in range(c_))
        tds = "".join(f'<TiffData FirstC="{c}" FirstT="0" FirstZ="0" IFD="{c}" PlaneCount="1">'
                      f'<UUID FileName="{fname}">{fuid}</UUID></TiffData>' for c in range(c_))
        image_xml.append(
            f'<Image ID="Image:{k}" Name="{_label(row, col)} field {field + 1}">'
            f'<Pixels ID="Pixels:{k}" DimensionOrder="XYZCT" Type="{pixels_type}" '
            f'SizeX="{x_}" SizeY="{y_}" SizeZ="1" SizeC="{c_}" SizeT="1" '
            f'BigEndian="{str(data.dtype.byteorder == ">").lower()}">{chans}{tds}</Pixels>'
            f'</Image>')
    well_xml = []
    for w, ((row, col), samples) in enumerate(sorted(wells.items())):
        ws = "".join(f'<WellSample ID="WellSample:0:{w}:{f}" Index="{k}">'
                     f'<ImageRef ID="Image:{k}"/></WellSample>' for f, k in sorted(samples))
        well_xml.append(f'<Well ID="Well:0:{w}" Row="{row}" Column="{col}">{ws}</Well>')
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<OME xmlns="{OME_NS}" UUID="{master}" '
           f'Creator="platequeue fixture"><Plate ID="Plate:0" Name={quoteattr(name)} '
           f'Rows="{rows}" Columns="{columns}" RowNamingConvention="letter" '
           f'ColumnNamingConvention="number">{"".join(well_xml)}</Plate>'
           f'{"".join(image_xml)}</OME>\n')
    (folder / companion).write_text(xml)
    return companion, [companion, *files]


def write_htd(folder: Path, name: str, images: Sequence[Image], *, rows: int, columns: int,
              channels: Sequence[str], fields: int) -> tuple[str, list[str]]:
    selected = {(r, c) for r, c, _f, _d in images}
    lines = ['"HTSInfoFile", Version 1.0', f'"Description", "{name}"', '"TimePoints", 1',
             '"ZSeries", FALSE', '"Waves", TRUE', f'"XWells", {columns}', f'"YWells", {rows}']
    for r in range(rows):
        flags = ", ".join("TRUE" if (r, c) in selected else "FALSE" for c in range(columns))
        lines.append(f'"WellsSelection{r + 1}", {flags}')
    lines += ['"Sites", TRUE', f'"XSites", {fields}', '"YSites", 1',
              f'"SiteSelection1", {", ".join(["TRUE"] * fields)}',
              f'"NWavelengths", {len(channels)}']
    for n, ch in enumerate(channels, start=1):
        lines += [f'"WaveName{n}", "{ch}"', f'"WaveCollect{n}", 1']
    lines.append('"EndFile"')
    htd = f"{name}.HTD"
    (folder / htd).write_text("\r\n".join(lines) + "\r\n")
    files = [htd]
    for row, col, field, data in sorted(images, key=lambda im: im[:3]):
        site = f"_s{field + 1}" if fields > 1 else ""
        for c in range(data.shape[0]):
            fname = f"{name}_{chr(ord('A') + row)}{col + 1:02d}{site}_w{c + 1}.TIF"
            tifffile.imwrite(folder / fname, data[c], photometric="minisblack", metadata=None)
            files.append(fname)
    return htd, files


def fake_name(name: str, *, rows: int, columns: int, fields: int, size: int,
              channels: int, pixels_type: str) -> str:
    """File name of a Bio-Formats synthetic plate (its content is Bio-Formats' own)."""
    return (f"{name}&plates=1&plateRows={rows}&plateCols={columns}&fields={fields}"
            f"&sizeC={channels}&sizeX={size}&sizeY={size}&pixelType={pixels_type}.fake")
