"""Beyond one process: training under ``torchrun`` and scoring on dask.

:func:`fit_distributed` trains a :class:`~corel_sklearn.TopoAutoencoder` with torch's
``DistributedDataParallel`` on several GPUs or machines (torch only).
``corel_sklearn.distributed.dask`` (the optional extra ``corel-sklearn[dask]``) maps fitted
models over dask arrays with one thread per worker; it is imported only when asked for, so
neither this package nor ``corel_sklearn`` imports dask.
"""

from corel_sklearn.distributed._torchrun import fit_distributed

__all__ = ["fit_distributed"]
