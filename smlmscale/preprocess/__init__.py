"""Preprocessing as lazy Dask graphs: offset, background, saturate, blur, tophat, normalize,
sum, crop.

Each step is a small module with a kernel (NumPy or CuPy in, same out), a graph
builder (lazy dask array in and out) and one ``STEP`` record;
:mod:`~smlmscale.preprocess.registry` collects them, :mod:`~smlmscale.preprocess.base`
defines the contract, :mod:`~smlmscale.preprocess.overlap` is the spatial filters'
Dask layer and :mod:`~smlmscale.preprocess.run` the stage (prepare, then run).
"""
