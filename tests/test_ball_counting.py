"""Ball-counting kernels against scikit-learn's KDTree (float64 reference) and hand-made arrays."""

import numpy as np
import pytest
from sklearn.neighbors import KDTree

from corel_sklearn.ball_counting import (
    ball_counts,
    branch_ball_counts,
    leave_one_out_ball_counts,
)
from corel_sklearn.ball_counting._rounding import compute_dtype

SKLEARN_METRIC = {"l1": "manhattan", "l2": "euclidean", "linf": "chebyshev"}
METRICS = tuple(SKLEARN_METRIC)


def kdtree_branch_counts(queries, anchors, radius, n_branches, metric):
    """Reference: one KDTree per branch, count_only radius queries (float64, closed balls)."""
    width = anchors.shape[1] // n_branches
    columns = []
    for k in range(n_branches):
        cols = slice(k * width, (k + 1) * width)
        tree = KDTree(anchors[:, cols], metric=SKLEARN_METRIC[metric])
        columns.append(tree.query_radius(queries[:, cols], radius, count_only=True))
    return np.stack(columns, axis=1)


def dyadic_data(rng, shape, dtype):
    """Multiples of 1/2 in [-1, 1]: every distance is exact, many lie exactly on radius 1."""
    return (rng.integers(-2, 3, size=shape) / 2).astype(dtype)


def n_exact_boundary_pairs(queries, anchors, radius, n_branches, metric):
    width = anchors.shape[1] // n_branches
    diff = np.abs(queries[:, None, :].astype(np.float64) - anchors[None].astype(np.float64))
    diff = diff.reshape(len(queries), len(anchors), n_branches, width)
    dist = {"l1": diff.sum(-1), "l2": np.sqrt((diff**2).sum(-1)), "linf": diff.max(-1)}[metric]
    return int((dist == radius).sum())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n_branches, width", [(4, 3), (2, 10), (3, 1)])
def test_random_data_matches_kdtree(dtype, metric, n_branches, width):
    rng = np.random.default_rng(1)
    anchors = rng.standard_normal((700, n_branches * width)).astype(dtype)
    queries = rng.standard_normal((90, n_branches * width)).astype(dtype)
    radius = {"l1": 0.8 * width, "l2": 0.9 * np.sqrt(width), "linf": 0.8}[metric]
    expected = kdtree_branch_counts(queries, anchors, radius, n_branches, metric)
    got = branch_ball_counts(queries, anchors, radius, n_branches=n_branches, metric=metric)
    assert 0 < expected.mean() < len(anchors)  # the radius is neither trivial nor empty
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", METRICS)
def test_exact_boundary_pairs_count_as_inside(dtype, metric):
    rng = np.random.default_rng(2)
    anchors = dyadic_data(rng, (600, 8), dtype)
    queries = dyadic_data(rng, (80, 8), dtype)
    expected = kdtree_branch_counts(queries, anchors, 1.0, 2, metric)
    got = branch_ball_counts(queries, anchors, 1.0, n_branches=2, metric=metric)
    assert n_exact_boundary_pairs(queries, anchors, 1.0, 2, metric) > 1000
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("metric", METRICS)
def test_float32_pairs_within_rounding_of_the_radius(metric):
    # Queries placed so that each float64 distance to its anchor is radius +- a few float32 ulps:
    # a plain float32 pass with another summation order would flip some of these pairs.
    rng = np.random.default_rng(3)
    width, radius = 10, 2.0
    anchors = rng.standard_normal((400, width)).astype(np.float32)
    step = rng.standard_normal((400, width))
    norm = {"l1": np.abs(step).sum(1), "l2": np.sqrt((step**2).sum(1)),
            "linf": np.abs(step).max(1)}[metric]
    queries = (anchors + radius * step / norm[:, None]).astype(np.float32)
    d64 = kdtree_branch_counts(queries, anchors, radius, 1, metric)
    got = branch_ball_counts(queries, anchors, radius, n_branches=1, metric=metric)
    np.testing.assert_array_equal(got, d64)
    diag = np.array([branch_ball_counts(queries[i:i + 1], anchors[i:i + 1], radius,
                                        metric=metric)[0, 0] for i in range(40)])
    assert 0 < diag.sum() < 40  # the near-boundary pairs fall on both sides


def _boundary_cases(rng, metric):
    """(query, radius) whose KDTree distance is exactly the radius, while a fused multiply-add
    (l2) or another summation order (l1) would put it outside."""
    from fractions import Fraction

    while True:
        if metric == "l2":
            t = rng.uniform(0.5, 2.0, 2)
            sequential = t[0] * t[0] + t[1] * t[1]
            fused = float(Fraction(t[0] * t[0]) + Fraction(t[1]) ** 2)
            radius = float(np.sqrt(sequential))
            if fused > sequential and radius * radius == sequential:
                return t, radius
        else:
            t = rng.uniform(0.1, 2.0, 3)
            if t[0] + (t[1] + t[2]) > (t[0] + t[1]) + t[2]:
                return t, (t[0] + t[1]) + t[2]


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_boundary_pairs_use_kdtrees_exact_arithmetic(metric, backend):
    rng = np.random.default_rng(8)
    for _ in range(5):
        query, radius = _boundary_cases(rng, metric)
        queries, anchors = query[None, :], np.zeros((1, len(query)))
        assert kdtree_branch_counts(queries, anchors, radius, 1, metric)[0, 0] == 1
        got = branch_ball_counts(queries, anchors, radius, metric=metric, backend=backend,
                                 device="cpu")
        assert got[0, 0] == 1


@pytest.mark.parametrize("radius", [4e37, 3e38])
def test_huge_magnitudes_stay_exact(radius):
    # float32 sums overflow to inf (correctly "outside"); a radius near float32's max switches
    # the fast pass to float64.
    rng = np.random.default_rng(4)
    anchors = (rng.integers(-8, 9, size=(200, 4)) * 1e37).astype(np.float32)
    queries = (rng.integers(-8, 9, size=(30, 4)) * 1e37).astype(np.float32)
    expected_dtype = np.float64 if radius > 1e38 else np.float32
    assert compute_dtype(np.float32, np.float32, radius, "l1", 4) == expected_dtype
    expected = kdtree_branch_counts(queries, anchors, radius, 1, "l1")
    assert 0 < expected.mean() < len(anchors)
    np.testing.assert_array_equal(branch_ball_counts(queries, anchors, radius), expected)


def test_hand_made_counts_and_aggregations():
    anchors = np.array([[0.0, 0.0], [1.0, 3.0], [2.0, 0.5], [0.0, 2.0]])
    queries = np.array([[0.0, 0.0], [9.0, 9.0]])
    per_branch = branch_ball_counts(queries, anchors, 2.0, n_branches=2)
    np.testing.assert_array_equal(per_branch, [[4, 3], [0, 0]])  # 2.0 and -2.0 are inside
    for aggregation, expected in (("sum", [7, 0]), ("mean", [3.5, 0]), ("max", [4, 0])):
        scores = ball_counts(queries, anchors, 2.0, n_branches=2, aggregation=aggregation)
        assert scores.dtype == np.float64
        np.testing.assert_array_equal(scores, expected)


def test_leave_one_out_removes_only_the_point_itself():
    anchors = np.array([[0.0, 0.0], [0.0, 0.0], [0.5, 3.0], [9.0, 9.0]])
    scores = leave_one_out_ball_counts(anchors, 1.0, n_branches=2)
    # the duplicate counts (2 branches), the point itself does not
    np.testing.assert_array_equal(scores, [3.0, 3.0, 2.0, 0.0])
    full = ball_counts(anchors, anchors, 1.0, n_branches=2)
    np.testing.assert_array_equal(full - 2, scores)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_groups_equal_separate_calls(dtype):
    rng = np.random.default_rng(5)
    anchors = dyadic_data(rng, (900, 6), dtype)
    groups = rng.integers(0, 4, size=900)
    groups[groups == 2] = 1  # group 2 is empty
    queries = dyadic_data(rng, (70, 6), dtype)
    got = ball_counts(queries, anchors, 1.0, n_branches=3, anchor_groups=groups, n_groups=5)
    assert got.shape == (70, 5)
    for g in range(5):
        members = anchors[groups == g]
        expected = (ball_counts(queries, members, 1.0, n_branches=3) if len(members)
                    else np.zeros(70))
        np.testing.assert_array_equal(got[:, g], expected)
    loo = leave_one_out_ball_counts(anchors, 1.0, n_branches=3, anchor_groups=groups)
    for g in (0, 1, 3):
        members = groups == g
        np.testing.assert_array_equal(
            loo[members], leave_one_out_ball_counts(anchors[members], 1.0, n_branches=3)
        )


def test_chunks_threads_and_mixed_dtypes_do_not_change_counts():
    rng = np.random.default_rng(6)
    anchors = rng.standard_normal((1500, 16)).astype(np.float32)
    queries = rng.standard_normal((333, 16)).astype(np.float32)
    reference = branch_ball_counts(queries, anchors, 3.0, n_branches=4)
    for kwargs in ({"max_chunk_bytes": 1}, {"n_threads": 1}, {"n_threads": 2}):
        got = branch_ball_counts(queries, anchors, 3.0, n_branches=4, **kwargs)
        np.testing.assert_array_equal(got, reference)
    mixed = branch_ball_counts(queries.astype(np.float64), anchors, 3.0, n_branches=4)
    np.testing.assert_array_equal(mixed, reference)


@pytest.mark.parametrize("metric", METRICS)
def test_torch_backend_on_cpu_tensors_matches_kdtree(metric):
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        for kind in ("random", "dyadic"):
            anchors, queries = (
                (rng.standard_normal(s).astype(dtype) if kind == "random"
                 else dyadic_data(rng, s, dtype)) for s in ((300, 6), (50, 6))
            )
            radius = 1.0
            expected = kdtree_branch_counts(queries, anchors, radius, 2, metric)
            got = branch_ball_counts(queries, anchors, radius, n_branches=2, metric=metric,
                                     backend="torch", device="cpu")
            np.testing.assert_array_equal(got, expected)
    groups = rng.integers(0, 3, size=300)
    anchors = dyadic_data(rng, (300, 6), np.float32)
    for backend in ("numba", "torch"):
        loo = leave_one_out_ball_counts(anchors, 1.0, n_branches=2, metric=metric,
                                        anchor_groups=groups, backend=backend, device="cpu")
        per_group = ball_counts(anchors, anchors, 1.0, n_branches=2, metric=metric,
                                anchor_groups=groups, backend=backend, device="cpu")
        np.testing.assert_array_equal(loo, per_group[np.arange(300), groups] - 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"radius": 0.0}, "radius must be a finite number > 0"),
        ({"radius": -1.0}, "radius must be a finite number > 0"),
        ({"radius": np.inf}, "radius must be a finite number > 0"),
        ({"n_branches": 3}, "must be a positive divisor"),
        ({"metric": "cosine"}, "metric must be one of"),
        ({"aggregation": "median"}, "aggregation must be one of"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = {"radius": 1.0, "n_branches": 2, "metric": "l1", "aggregation": "sum", **kwargs}
    radius = args.pop("radius")
    with pytest.raises(ValueError, match=match):
        ball_counts(np.zeros((2, 4)), np.zeros((3, 4)), radius, **args)


def test_bad_arrays_raise():
    with pytest.raises(ValueError, match="NaN or inf"):
        ball_counts(np.array([[np.nan, 0.0]]), np.zeros((3, 2)), 1.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        ball_counts(np.zeros((1, 2)), np.array([[np.inf, 0.0]]), 1.0)
    with pytest.raises(ValueError, match="queries have 3 dimensions but anchors have 2"):
        ball_counts(np.zeros((1, 3)), np.zeros((3, 2)), 1.0)
