"""Beyond one process: training under ``torchrun`` and scoring on dask.

``corel_sklearn.distributed.dask`` (the optional extra ``corel-sklearn[dask]``) maps fitted
models over dask arrays with one thread per worker; it is imported only when asked for, so
neither this package nor ``corel_sklearn`` imports dask.
"""
