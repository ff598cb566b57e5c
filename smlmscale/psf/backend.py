"""The array namespace the PSF kernels are written against: NumPy or TensorFlow.

The pupil kernels (:mod:`smlmscale.psf.pupil`) use only the functions of a
:class:`Backend`, so the same code gives NumPy arrays (simulation, PSF files) or
TensorFlow tensors that ``tf.GradientTape`` differentiates (mask learning). Inputs may
be Python numbers, NumPy arrays or, with the TensorFlow backend, tensors and variables;
:meth:`Backend.asarray` turns them into the backend's real dtype.

FFTs act on the last two axes; ``fft2`` has no normalization and ``ifft2`` divides by
the number of samples, as in NumPy.

>>> xp = backend("numpy")
>>> z = xp.polar(xp.asarray([1.0, 2.0]), xp.asarray([0.0, 3.141592653589793 / 2]))
>>> xp.abs2(z).round(12).tolist()
[1.0, 4.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from smlmscale.errors import InputError

BACKENDS = ("numpy", "tensorflow")


@dataclass(frozen=True)
class Backend:
    """The functions a kernel may call, for one array library and one precision.

    Attributes
    ----------
    name : {"numpy", "tensorflow"}
    double : bool
        float64/complex128 when true, float32/complex64 otherwise.
    """

    name: str
    double: bool
    asarray: Callable[[Any], Any]
    polar: Callable[[Any, Any], Any]
    abs2: Callable[[Any], Any]
    real: Callable[[Any], Any]
    to_complex: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    cos: Callable[[Any], Any]
    sin: Callable[[Any], Any]
    fft2: Callable[[Any], Any]
    ifft2: Callable[[Any], Any]
    fftshift: Callable[[Any], Any]
    ifftshift: Callable[[Any], Any]
    sum_image: Callable[[Any], Any]
    reshape: Callable[[Any, tuple], Any]
    to_numpy: Callable[[Any], np.ndarray]


def _numpy(double: bool) -> Backend:
    real = np.float64 if double else np.float32
    cplx = np.complex128 if double else np.complex64
    axes = (-2, -1)
    return Backend(
        name="numpy", double=double,
        asarray=lambda x: np.asarray(x, dtype=real),
        polar=lambda r, phi: (r * np.exp(1j * phi)).astype(cplx, copy=False),
        abs2=lambda z: (z.real ** 2 + z.imag ** 2).astype(real, copy=False),
        real=lambda z: np.ascontiguousarray(z.real),
        to_complex=lambda x: np.asarray(x, dtype=cplx),
        exp=np.exp, cos=np.cos, sin=np.sin,
        fft2=lambda z: np.fft.fft2(z, axes=axes).astype(cplx, copy=False),
        ifft2=lambda z: np.fft.ifft2(z, axes=axes).astype(cplx, copy=False),
        fftshift=lambda x: np.fft.fftshift(x, axes=axes),
        ifftshift=lambda x: np.fft.ifftshift(x, axes=axes),
        sum_image=lambda x: np.sum(x, axis=(-2, -1), keepdims=True),
        reshape=np.reshape,
        to_numpy=np.asarray,
    )


def _tensorflow(double: bool) -> Backend:
    import tensorflow as tf

    real = tf.float64 if double else tf.float32
    cplx = tf.complex128 if double else tf.complex64

    def asarray(x):
        return tf.cast(x, real) if tf.is_tensor(x) or isinstance(x, tf.Variable) \
            else tf.constant(np.asarray(x), dtype=real)

    def polar(r, phi):
        return tf.complex(r * tf.cos(phi), r * tf.sin(phi))

    return Backend(
        name="tensorflow", double=double, asarray=asarray, polar=polar,
        abs2=lambda z: tf.math.real(z) ** 2 + tf.math.imag(z) ** 2,
        real=tf.math.real,
        to_complex=lambda x: tf.cast(asarray(x), cplx),
        exp=tf.exp, cos=tf.cos, sin=tf.sin,
        fft2=tf.signal.fft2d, ifft2=tf.signal.ifft2d,
        fftshift=lambda x: tf.signal.fftshift(x, axes=(-2, -1)),
        ifftshift=lambda x: tf.signal.ifftshift(x, axes=(-2, -1)),
        sum_image=lambda x: tf.reduce_sum(x, axis=(-2, -1), keepdims=True),
        reshape=tf.reshape,
        to_numpy=lambda x: np.asarray(x.numpy() if hasattr(x, "numpy") else x),
    )


def backend(name: str | Backend = "numpy", *, double: bool | None = None) -> Backend:
    """The :class:`Backend` called ``name`` (a :class:`Backend` is returned as it is).

    Parameters
    ----------
    name : {"numpy", "tensorflow"} or Backend
    double : bool, optional
        Double precision; default true for NumPy, false (float32, as Keras trains) for
        TensorFlow. TensorFlow is imported only here, when asked for.

    Raises
    ------
    InputError
        An unknown backend name.
    """
    if isinstance(name, Backend):
        return name
    if name not in BACKENDS:
        raise InputError(f"unknown array backend {name!r}", hint="use numpy or tensorflow")
    if name == "numpy":
        return _numpy(True if double is None else double)
    return _tensorflow(False if double is None else double)


__all__ = ["BACKENDS", "Backend", "backend"]
