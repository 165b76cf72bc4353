"""Thread limits for the training loops of the runners (owned by :mod:`corel_sklearn._threads`)."""

from corel_sklearn._threads import limited_threads

__all__ = ["limited_threads"]
