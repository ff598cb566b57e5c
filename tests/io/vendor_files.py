"""Test-file makers for ND2 and CZI movies.

- :func:`write_czi` writes a real CZI file with pylibCZIrw's writer.
- :func:`write_nd2` builds a minimal ND2 (version 3.0) file byte by byte, as the nd2
  package parses it (no library writes ND2): a start chunk (``ND2 FILE SIGNATURE CHUNK
  NAME01!``, ``Ver3.0``), then chunks of ``magic 0x0ABECEDA, name length, data length``,
  the name padded with NULs, the data: ``ImageAttributesLV!`` (size, components, bits),
  ``ImageMetadataSeqLV|0!`` (channels, calibration in um), ``ImageMetadataLV!`` (the
  nested experiment loops: time, XY positions, Z, custom) in the CLx variant XML that the
  package reads beside its binary "lite" form, and one ``ImageDataSeq|i!`` per frame (an
  8-byte timestamp then the pixels ``(Y, X, C)`` interleaved, at 4096 bytes from the
  chunk's start); last the chunk map (``name!``, offset, size per chunk, closed by ``ND2
  CHUNK MAP SIGNATURE 0000001!``) in a ``ND2 FILEMAP SIGNATURE NAME 0001!`` chunk, and the
  final 40 bytes: the map signature and the map chunk's offset. Frames are stored in the
  C order of the loop axes, outermost loop first, as the package indexes them.
"""

from __future__ import annotations

import struct
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

_ND2_MAGIC = 0x0ABECEDA
_ND2_HEADER = struct.Struct("<IIQ")
#: Axis letter -> ND2 experiment loop type (TimeLoop, XYPosLoop, ZStackLoop, CustomLoop).
_ND2_LOOPS = {"T": 1, "P": 2, "Z": 4, "U": 7}


def write_czi(path, data: np.ndarray, *, axis: str = "T", pixel_size_nm: float | None = None,
              channel_names: list[str] | None = None,
              origins: list[tuple[int, int]] | None = None) -> Path:
    """Write ``data`` ``(scene, frame, channel, y, x)`` as a CZI file with pylibCZIrw.

    ``axis`` is the CZI dimension the frames are written along (``"T"`` or ``"Z"``);
    scene ``s`` is placed with its top-left corner at ``origins[s]`` ``(x, y)`` (default
    scenes side by side with a gap); the X/Y scaling is written in m, as CZI stores it.
    """
    from pylibCZIrw import czi

    path = Path(path)
    n_scenes, n_frames, n_channels, height, width = data.shape
    origins = origins or [(s * (width + 9), 3 * s) for s in range(n_scenes)]
    with czi.create_czi(str(path), exist_ok=True) as writer:
        for s in range(n_scenes):
            for i in range(n_frames):
                for c in range(n_channels):
                    writer.write(np.ascontiguousarray(data[s, i, c])[..., None],
                                 plane={axis: i, "C": c}, scene=s, location=origins[s])
        scale_m = 0.0 if pixel_size_nm is None else pixel_size_nm * 1e-9
        writer.write_metadata(
            channel_names=dict(enumerate(channel_names)) if channel_names else None,
            scale_x=scale_m, scale_y=scale_m)
    return path


def write_nd2(path, data: np.ndarray, axes: str, *, pixel_size_um: float | None = None,
              channel_names: list[str] | None = None) -> Path:
    """Build an ND2 file of ``data`` whose axes are ``axes``.

    ``axes`` is the loops (outermost first, of ``T``, ``P``, ``Z``, ``U``), then ``C``
    (optional), ``Y``, ``X``, and ``S`` last for RGB (3 samples). ``pixel_size_um`` is
    written as the calibration; None writes an uncalibrated file.
    """
    data = np.asarray(data)
    rgb = axes.endswith("S")
    if rgb:
        data, axes = np.moveaxis(data, -1, -3), axes[:-3] + "CYX"   # samples as components
    elif "C" not in axes:
        data, axes = data[..., None, :, :], axes[:-2] + "CYX"
    n_comp, height, width = data.shape[-3:]
    n_channels = 1 if rgb else n_comp
    attrs = {"uiWidth": width, "uiWidthBytes": width * n_comp * data.itemsize,
             "uiHeight": height, "uiComp": n_comp, "uiBpcInMemory": 8 * data.itemsize,
             "uiBpcSignificant": 8 * data.itemsize, "eCompression": 2,
             "uiSequenceCount": int(np.prod(data.shape[:-3]))}
    names = channel_names or [f"ch{c}" for c in range(n_channels)]
    spectrum = {"uiCount": 1, "pPoint": {"Point0": {"dWavelength": 600.0, "eType": 1}}}
    probe = {"m_ExcitationSpectrum": spectrum, "m_EmissionSpectrum": spectrum}
    planes = {f"a{c}": {"sDescription": names[c], "uiCompCount": n_comp // n_channels,
                        "uiSampleIndex": c, "pFluorescentProbe": probe}
              for c in range(n_channels)}
    meta = {"bCalibrated": pixel_size_um is not None,
            "dCalibration": float(pixel_size_um or 1.0),
            "sPicturePlanes": {"uiCount": n_channels, "sPlaneNew": planes}}
    chunks = [(b"ImageAttributesLV!", _nd2_doc("SLxImageAttributes", attrs), None),
              (b"ImageMetadataSeqLV|0!", _nd2_doc("SLxPictureMetadata", meta), None)]
    experiment = None
    for axis, count in reversed(list(zip(axes[:-3], data.shape[:-3]))):
        experiment = _nd2_loop(axis, count, experiment)
    if experiment is not None:
        chunks.append((b"ImageMetadataLV!", _nd2_doc("SLxExperiment", experiment), None))
    frames = np.moveaxis(data.reshape((-1, n_comp, height, width)), 1, -1)   # (Y, X, C)
    for i, frame in enumerate(frames):
        pixels = struct.pack("<d", 100.0 * i) + np.ascontiguousarray(frame).tobytes()
        chunks.append((f"ImageDataSeq|{i}!".encode(), pixels, 4072))  # pixels at +4096
    out = bytearray(_ND2_HEADER.pack(_ND2_MAGIC, 32, 64) + b"ND2 FILE SIGNATURE CHUNK NAME01!"
                    + b"Ver3.0".ljust(64, b"\0"))
    table = bytearray()
    for name, payload, name_length in chunks:
        table += name + struct.pack("<QQ", len(out), len(payload))
        out += _nd2_chunk(name, payload, name_length)
    table += b"ND2 CHUNK MAP SIGNATURE 0000001!" + struct.pack("<Q", 0)
    where = len(out)
    out += _nd2_chunk(b"ND2 FILEMAP SIGNATURE NAME 0001!", bytes(table), 32)
    out += b"ND2 CHUNK MAP SIGNATURE 0000001!" + struct.pack("<Q", where)
    path = Path(path)
    path.write_bytes(bytes(out))
    return path


def _nd2_xml(name: str, value) -> str:
    """One CLx variant XML node: scalars typed by ``runtype``, lists as ``no_name`` items."""
    if isinstance(value, bool):
        return f'<{name} runtype="bool" value="{str(value).lower()}"/>'
    if isinstance(value, int):
        return f'<{name} runtype="lx_uint32" value="{value}"/>'
    if isinstance(value, float):
        return f'<{name} runtype="double" value="{value!r}"/>'
    if isinstance(value, str):
        return f'<{name} runtype="CLxStringW" value={quoteattr(value)}/>'
    items = [("no_name", v) for v in value] if isinstance(value, list) else value.items()
    inner = "".join(_nd2_xml(k, v) for k, v in items)
    return f'<{name} runtype="CLxListVariant">{inner}</{name}>'


def _nd2_doc(name: str, value: dict) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><variant version="1.0">'
            + _nd2_xml(name, value) + "</variant>").encode()


def _nd2_chunk(name: bytes, data: bytes, name_length: int | None = None) -> bytes:
    name_length = name_length or len(name) + 20
    return (_ND2_HEADER.pack(_ND2_MAGIC, name_length, len(data))
            + name.ljust(name_length, b"\0") + data)


def _nd2_loop(axis: str, count: int, inner: dict | None) -> dict:
    if axis == "T":
        pars = {"uiCount": count, "dStart": 0.0, "dPeriod": 100.0, "dDuration": 0.0}
    elif axis == "Z":
        pars = {"uiCount": count, "dZLow": 0.0, "dZHigh": float(count - 1), "dZStep": 1.0,
                "iType": 0}
    elif axis == "P":
        pars = {"Points": [{"dPosX": 100.0 * i, "dPosY": 0.0, "dPosZ": 0.0,
                            "pPosName": f"pos{i}"} for i in range(count)]}
    else:
        pars = {"uiCount": count}
    loop = {"eType": _ND2_LOOPS[axis], "uLoopPars": pars}
    if inner is not None:
        loop["ppNextLevelEx"] = [inner]
    return loop
