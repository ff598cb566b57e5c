"""The array namespace the PSF kernels are written against: NumPy or TensorFlow.

The pupil kernels (:mod:`smlmscale.psf.pupil`) use only the functions of a
:class:`Backend`, so the same code gives NumPy arrays (simulation, PSF files) or
TensorFlow tensors that ``tf.GradientTape`` differentiates (mask learning). Inputs may
be Python numbers, NumPy arrays or, with the TensorFlow backend, tensors and variables;
:meth:`Backend.asarray` turns them into the backend's real dtype.

FFTs act on the last two axes, normalized as in NumPy (``ifft2`` divides by the number
of samples); the NumPy backend uses :mod:`scipy.fft`.

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

    Besides the elementwise functions: ``ifft2`` (complex, last two axes), ``rfft2`` and
    ``irfft2(x, n)`` (real images of ``n x n``), ``fftshift`` (last two axes),
    ``sum_image`` (over the last two axes, kept), ``gather_flat(x, index)`` (``(..., N, N)``
    -> ``(..., M)`` at flat indices) and ``scatter_flat(values, index, n)`` (``(B, M)`` ->
    ``(B, n, n)`` complex, zeros elsewhere).
    """

    name: str
    double: bool
    asarray: Callable[[Any], Any]
    to_complex: Callable[[Any], Any]
    polar: Callable[[Any, Any], Any]
    abs2: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    ifft2: Callable[[Any], Any]
    rfft2: Callable[[Any], Any]
    irfft2: Callable[[Any, int], Any]
    fftshift: Callable[[Any], Any]
    sum_image: Callable[[Any], Any]
    reshape: Callable[[Any, tuple], Any]
    gather_flat: Callable[[Any, np.ndarray], Any]
    scatter_flat: Callable[[Any, np.ndarray, int], Any]
    to_numpy: Callable[[Any], np.ndarray]


def _numpy(double: bool) -> Backend:
    import scipy.fft

    real = np.float64 if double else np.float32
    cplx = np.complex128 if double else np.complex64
    axes = (-2, -1)

    def scatter_flat(values, index, n):
        out = np.zeros((values.shape[0], n * n), dtype=cplx)
        out[:, index] = values
        return out.reshape(values.shape[0], n, n)

    return Backend(
        name="numpy", double=double,
        asarray=lambda x: np.asarray(x, dtype=real),
        to_complex=lambda x: np.asarray(x, dtype=cplx),
        polar=lambda r, phi: (r * np.exp(1j * phi)).astype(cplx, copy=False),
        abs2=lambda z: (z.real ** 2 + z.imag ** 2).astype(real, copy=False),
        exp=np.exp,
        ifft2=lambda z: scipy.fft.ifft2(z, axes=axes),
        rfft2=lambda x: scipy.fft.rfft2(x, axes=axes),
        irfft2=lambda x, n: scipy.fft.irfft2(x, s=(n, n), axes=axes),
        fftshift=lambda x: np.fft.fftshift(x, axes=axes),
        sum_image=lambda x: np.sum(x, axis=axes, keepdims=True),
        reshape=np.reshape,
        gather_flat=lambda x, index: np.reshape(x, (*np.shape(x)[:-2], -1))[..., index],
        scatter_flat=scatter_flat,
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

    def gather_flat(x, index):
        x = tf.convert_to_tensor(x)
        flat = tf.reshape(x, tf.concat([tf.shape(x)[:-2], [-1]], axis=0))
        return tf.gather(flat, index, axis=-1)

    def scatter_flat(values, index, n):
        batch = tf.shape(values)[0]
        cols = tf.scatter_nd(index[:, None], tf.transpose(values), [n * n, batch])
        return tf.reshape(tf.transpose(cols), [batch, n, n])

    return Backend(
        name="tensorflow", double=double, asarray=asarray,
        to_complex=lambda x: tf.cast(asarray(x), cplx), polar=polar,
        abs2=lambda z: tf.math.real(z) ** 2 + tf.math.imag(z) ** 2,
        exp=tf.exp, ifft2=tf.signal.ifft2d,
        rfft2=tf.signal.rfft2d,
        irfft2=lambda x, n: tf.signal.irfft2d(x, fft_length=[n, n]),
        fftshift=lambda x: tf.signal.fftshift(x, axes=(-2, -1)),
        sum_image=lambda x: tf.reduce_sum(x, axis=(-2, -1), keepdims=True),
        reshape=tf.reshape, gather_flat=gather_flat, scatter_flat=scatter_flat,
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
