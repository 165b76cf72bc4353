import os

import numpy as np
import pytest
import torch

# Without a GPU, the Triton kernels run (slowly) in Triton's CPU interpreter, so the CUDA code
# path is tested on every machine. Must be set before triton is first imported.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

SHARED_DATA = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "shared", "data")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def X():
    """The tiny training data (``tiny_data()``): 60 x 12 uniform float32, fresh per test."""
    from _small_autoencoder import tiny_data  # imports the package: after TRITON_INTERPRET

    return tiny_data()


@pytest.fixture
def shared_data():
    """Path to ../shared/data; tests that need it skip cleanly when it is absent."""
    path = os.path.abspath(SHARED_DATA)
    if not os.path.isdir(path):
        pytest.skip(f"shared data folder not found at {path}")
    return path
