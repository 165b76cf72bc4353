"""The package's version, in a module of its own.

Modules inside the package read it from here (never from the package face), and setup.cfg's
``version = attr: corel_sklearn._version.__version__`` reads it without importing anything.
"""

__version__ = "0.2.0.dev0"
