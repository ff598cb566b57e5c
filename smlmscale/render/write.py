"""Writing a rendered image: TIFF (the numbers) or PNG (for the eye, with colour and scale).

TIFF: float32, ImageJ metadata with the pixel size in nm; one ``(H, W)`` density image,
or with colour by a column two channels ``(2, H, W)`` (axes ``CYX``): the density and
the density-weighted mean of the column per pixel (NaN where nothing was drawn).

PNG: the density display-scaled (:func:`~smlmscale.render.image.display`) with the "hot"
colour map; with colour by a column, the hue of each pixel is its mean value on the
"turbo" colour map (over the range :func:`~smlmscale.render.run.colour_range` gives: the
per-pixel means' 0.5 to 99.5 percentiles, values beyond shown at the ends) and its brightness
the display-scaled density, with a colour bar; with a widefield movie, a second panel; with
``scale_bar_nm``, a white bar of that length at the bottom right, labelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smlmscale.render.draw import mean_value
from smlmscale.render.image import display

COLOR_MAP = "turbo"


@dataclass(frozen=True)
class Colour:
    """Colour by a column: its ``label`` (``"z (nm)"``) and the value range shown."""

    label: str
    low: float
    high: float


def length_label(length_nm: float) -> str:
    """``"500 nm"``, ``"2 µm"``.

    >>> length_label(500.0), length_label(2000.0), length_label(1500.0)
    ('500 nm', '2 µm', '1.5 µm')
    """
    if length_nm >= 1000:
        return f"{length_nm / 1000:g} µm"
    return f"{length_nm:g} nm"


def coloured(stack: np.ndarray, colour: Colour) -> np.ndarray:
    """``(H, W, 3)`` RGB in ``[0, 1]``: hue from the mean value, brightness from the density."""
    from matplotlib import colormaps

    span = (colour.high - colour.low) or 1.0
    value = np.clip((mean_value(stack) - colour.low) / span, 0, 1)
    rgb = colormaps[COLOR_MAP](np.nan_to_num(value, nan=0.0))[..., :3]
    return rgb * display(stack[0])[..., None]


def write_image(path: Path, kind: str, stack: np.ndarray, *, pixel_nm: float,
                wide: np.ndarray | None = None, colour: Colour | None = None,
                scale_bar_nm: float = 0.0) -> None:
    """Write a summed ``(C, H, W)`` render stack (:class:`~smlmscale.render.draw.Drawing`).

    Parameters
    ----------
    path : pathlib.Path
    kind : {"png", "tiff"}
    stack : numpy.ndarray
        ``(1, H, W)`` density, or ``(2, H, W)`` density and weighted column.
    pixel_nm : float
        Render pixel size, nm.
    wide : numpy.ndarray, optional
        ``(H, W)`` widefield image, a second PNG panel.
    colour : Colour, optional
        How channel 1 is shown.
    scale_bar_nm : float
        Length of the PNG's scale bar, nm (0: none).
    """
    if kind == "tiff":
        import tifffile

        data = stack[0] if colour is None else np.stack([stack[0], mean_value(stack)])
        tifffile.imwrite(path, data.astype(np.float32), imagej=True,
                         resolution=(1 / pixel_nm, 1 / pixel_nm),
                         metadata={"unit": "nm", **({"axes": "CYX"} if colour else {})})
        return
    _write_png(path, stack, pixel_nm=pixel_nm, wide=wide, colour=colour,
               scale_bar_nm=scale_bar_nm)


def _write_png(path: Path, stack: np.ndarray, *, pixel_nm: float, wide: np.ndarray | None,
               colour: Colour | None, scale_bar_nm: float) -> None:
    from matplotlib.figure import Figure

    panels = [("super-resolution", stack)] + ([("widefield (sum)", wide)]
                                              if wide is not None else [])
    height, width = stack.shape[1:]
    scale = 6.0 / max(height, width)
    extra = 1.0 if colour is not None else 0.0
    fig = Figure(figsize=(len(panels) * width * scale + 0.4 + extra, height * scale + 0.6),
                 dpi=150)
    for i, (title, panel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        if i > 0:
            ax.imshow(display(panel), cmap="gray", interpolation="nearest")
        elif colour is None:
            ax.imshow(display(panel[0]), cmap="hot", interpolation="nearest")
        else:
            ax.imshow(coloured(panel, colour), interpolation="nearest")
            _colour_bar(fig, ax, colour)
        if i == 0 and scale_bar_nm > 0:
            _scale_bar(ax, scale_bar_nm, pixel_nm, height)
        ax.set_title(title, fontsize="small")
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, format="png")


def _colour_bar(fig, ax, colour: Colour) -> None:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(norm=Normalize(colour.low, colour.high),
                              cmap=colormaps[COLOR_MAP])
    bar = fig.colorbar(mappable, ax=ax, fraction=0.046, pad=0.02)
    bar.set_label(colour.label, fontsize="small")
    bar.ax.tick_params(labelsize="x-small")


def _scale_bar(ax, length_nm: float, pixel_nm: float, height: int) -> None:
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    bar = AnchoredSizeBar(ax.transData, length_nm / pixel_nm, length_label(length_nm),
                          "lower right", pad=0.4, color="white", frameon=False,
                          size_vertical=max(1.0, height / 100), fontproperties={"size": 7})
    ax.add_artist(bar)


__all__ = ["COLOR_MAP", "Colour", "coloured", "length_label", "write_image"]
