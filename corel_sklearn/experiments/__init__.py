"""Experiments: the paper's one-class protocol, ODDS benchmark, baselines, reports, CLI.

Run ``python -m corel_sklearn --help`` (or ``corel-sklearn --help``) for the command line.
"""

from corel_sklearn.experiments._cache import (
    default_cache_dir,
    encoder_cache_key,
    fit_encoder_cached,
)
from corel_sklearn.experiments._methods import DEFAULT_METHODS, METHODS, Method
from corel_sklearn.experiments._odds import (
    ODDS_METHODS,
    OddsResult,
    odds_encoder,
    read_published_table,
    run_odds_benchmark,
)
from corel_sklearn.experiments._protocol import AUX_SPLITS, run_one_class_protocol
from corel_sklearn.experiments._report import OneClassResult

__all__ = [
    "AUX_SPLITS",
    "DEFAULT_METHODS",
    "METHODS",
    "Method",
    "ODDS_METHODS",
    "OddsResult",
    "OneClassResult",
    "default_cache_dir",
    "encoder_cache_key",
    "fit_encoder_cached",
    "odds_encoder",
    "read_published_table",
    "run_odds_benchmark",
    "run_one_class_protocol",
]
