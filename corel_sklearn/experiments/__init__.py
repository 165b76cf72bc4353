"""Experiments: the paper's one-class protocol, the ODDS and ADBench runs, reports, CLI.

One method registry (:data:`METHODS`), one result type (:class:`BenchmarkResult`) and one
runner per protocol. Run ``python -m corel_sklearn --help`` (or ``corel-sklearn --help``) for
the command line. Ctrl-C stops a runner with :class:`BenchmarkInterrupted`, which carries the
runs finished so far.
"""

# the runners' default encoder, importable from here as before
from corel_sklearn.estimators import tabular_encoder  # noqa: F401
from corel_sklearn.experiments._cache import (
    default_cache_dir,
    encoder_cache_key,
    fit_encoder_cached,
)
from corel_sklearn.experiments._methods import (
    ADBENCH_METHODS,
    METHODS,
    ODDS_METHODS,
    PAPER_METHODS,
    Method,
    MethodContext,
    resolve_methods,
)
from corel_sklearn.experiments._protocol import (
    AUX_SPLITS,
    ProtocolSettings,
    run_one_class_protocol,
)
from corel_sklearn.experiments._report import (
    COPY_AFFECTED_SHARE,
    BenchmarkInterrupted,
    BenchmarkResult,
)
from corel_sklearn.experiments._tabular_benchmarks import (
    ADBENCH_SEEDS,
    ADBENCH_SETTINGS,
    TabularSettings,
    adbench_files,
    adbench_split,
    copy_share,
    default_trim,
    pyod_split,
    read_adbench_published,
    read_published_table,
    run_adbench_benchmark,
    run_odds_benchmark,
)

__all__ = [
    "ADBENCH_METHODS",
    "ADBENCH_SEEDS",
    "ADBENCH_SETTINGS",
    "AUX_SPLITS",
    "BenchmarkInterrupted",
    "BenchmarkResult",
    "COPY_AFFECTED_SHARE",
    "METHODS",
    "Method",
    "MethodContext",
    "ODDS_METHODS",
    "PAPER_METHODS",
    "ProtocolSettings",
    "TabularSettings",
    "adbench_files",
    "adbench_split",
    "copy_share",
    "default_cache_dir",
    "default_trim",
    "encoder_cache_key",
    "fit_encoder_cached",
    "pyod_split",
    "read_adbench_published",
    "read_published_table",
    "resolve_methods",
    "run_adbench_benchmark",
    "run_odds_benchmark",
    "run_one_class_protocol",
]
