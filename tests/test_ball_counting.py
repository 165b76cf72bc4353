"""Ball-counting and k-th neighbour kernels against scikit-learn's KDTree and hand-made arrays."""

import numpy as np
import pytest
from sklearn.neighbors import KDTree

from corel_sklearn.ball_counting import (
    ball_counts,
    branch_ball_counts,
    branch_kth_neighbor_distances,
    kth_neighbor_distances,
    leave_one_out_ball_counts,
    leave_one_out_kth_neighbor_distances,
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


def test_zero_dimensional_points_are_refused():
    # Before, the kernel read past the end of each (empty) point: counts differed from process
    # to process (47/50/47, 0/0/0 for 3 queries against 50 anchors).
    for func in (ball_counts, branch_ball_counts):
        with pytest.raises(ValueError, match=r"anchors have 0 dimensions \(shape \(50, 0\)\)"):
            func(np.zeros((3, 0)), np.zeros((50, 0)), 1.0)
        with pytest.raises(ValueError, match=r"queries have 0 dimensions \(shape \(3, 0\)\)"):
            func(np.zeros((3, 0)), np.zeros((50, 2)), 1.0)
    with pytest.raises(ValueError, match="anchors have 0 dimensions"):
        leave_one_out_ball_counts(np.zeros((50, 0)), 1.0)
    for func in (kth_neighbor_distances, branch_kth_neighbor_distances):
        with pytest.raises(ValueError, match="anchors have 0 dimensions"):
            func(np.zeros((3, 0)), np.zeros((50, 0)), 5)
    with pytest.raises(ValueError, match="anchors have 0 dimensions"):
        leave_one_out_kth_neighbor_distances(np.zeros((50, 0)), 5)
    with pytest.raises(ValueError, match="anchors have 0 dimensions"):
        ball_counts(np.zeros((3, 0)), np.zeros((50, 0)), 1.0, backend="torch", device="cpu")


# ------------------------------------------------------------------ k-th neighbour distances


def kdtree_branch_kth(queries, anchors, k, n_branches, metric, leave_one_out=False):
    """Reference: per branch, the k-th KDTree.query distance (the (k+1)-th when the queries are
    the anchors and each must skip itself)."""
    width = anchors.shape[1] // n_branches
    columns = []
    for b in range(n_branches):
        cols = slice(b * width, (b + 1) * width)
        tree = KDTree(anchors[:, cols].astype(np.float64), metric=SKLEARN_METRIC[metric])
        distances, _ = tree.query(queries[:, cols].astype(np.float64), k=k + leave_one_out)
        columns.append(distances[:, -1])
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n_branches, width, k", [(4, 3, 5), (1, 20, 7), (3, 1, 1)])
def test_kth_distances_match_kdtree(dtype, metric, n_branches, width, k):
    rng = np.random.default_rng(11)
    anchors = rng.standard_normal((1200, n_branches * width)).astype(dtype)
    queries = rng.standard_normal((70, n_branches * width)).astype(dtype)
    expected = kdtree_branch_kth(queries, anchors, k, n_branches, metric)
    got = branch_kth_neighbor_distances(queries, anchors, k, n_branches=n_branches,
                                        metric=metric)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    loo = leave_one_out_kth_neighbor_distances(anchors, k, n_branches=n_branches, metric=metric,
                                               aggregation="max")
    np.testing.assert_array_equal(
        loo, kdtree_branch_kth(anchors, anchors, k, n_branches, metric, True).max(1))


@pytest.mark.parametrize("metric", METRICS)
def test_kth_distances_many_neighbours_many_blocks_match_kdtree(metric):
    # k above the 16 lane minima that bound a first block, several blocks per branch (lists
    # that fill up and are trimmed within a block), read-only float32 anchors.
    rng = np.random.default_rng(14)
    anchors = rng.standard_normal((1300, 8)).astype(np.float32)
    anchors.setflags(write=False)
    queries = rng.standard_normal((9, 8)).astype(np.float32)
    for k in (17, 40):
        got = branch_kth_neighbor_distances(queries, anchors, k, n_branches=2, metric=metric)
        np.testing.assert_array_equal(got, kdtree_branch_kth(queries, anchors, k, 2, metric))


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("metric", METRICS)
def test_kth_distances_with_ties_and_duplicates(backend, metric):
    # Multiples of 1/2: most distances tie, many anchors are exact copies of each other.
    rng = np.random.default_rng(12)
    for dtype in (np.float32, np.float64):
        anchors = dyadic_data(rng, (900, 6), dtype)
        queries = dyadic_data(rng, (60, 6), dtype)
        got = branch_kth_neighbor_distances(queries, anchors, 5, n_branches=2, metric=metric,
                                            backend=backend, device="cpu")
        np.testing.assert_array_equal(got, kdtree_branch_kth(queries, anchors, 5, 2, metric))
        loo = leave_one_out_kth_neighbor_distances(anchors, 5, n_branches=2, metric=metric,
                                                   aggregation="sum", backend=backend,
                                                   device="cpu")
        expected = kdtree_branch_kth(anchors, anchors, 5, 2, metric, True).sum(1)
        np.testing.assert_array_equal(loo, expected)
        assert (loo == 0).any()  # anchors with 5 copies of themselves


def test_kth_distances_hand_made():
    anchors = np.array([[0.0], [1.0], [1.0], [5.0]])
    # the duplicate of an anchor is its neighbour at distance 0; the anchor itself is not
    np.testing.assert_array_equal(leave_one_out_kth_neighbor_distances(anchors, 1),
                                  [1.0, 0.0, 0.0, 4.0])
    np.testing.assert_array_equal(leave_one_out_kth_neighbor_distances(anchors, 2),
                                  [1.0, 1.0, 1.0, 4.0])
    np.testing.assert_array_equal(leave_one_out_kth_neighbor_distances(anchors, 3),
                                  [5.0, 4.0, 4.0, 5.0])
    queries = np.array([[1.0], [3.0], [-1.0]])
    np.testing.assert_array_equal(kth_neighbor_distances(queries, anchors, 2), [0.0, 2.0, 2.0])
    np.testing.assert_array_equal(kth_neighbor_distances(queries, anchors, 4), [4.0, 3.0, 6.0])
    # branches and aggregations: branch 0 sees 0, 1, 2, -4 and branch 1 sees 0, 3, 0.5, 1
    two = np.array([[0.0, 0.0], [1.0, 3.0], [2.0, 0.5], [-4.0, 1.0]])
    q = np.array([[0.0, 0.0], [0.0, 1.5]])
    per_branch = branch_kth_neighbor_distances(q, two, 2, n_branches=2)
    np.testing.assert_array_equal(per_branch, [[1.0, 0.5], [1.0, 1.0]])
    for aggregation, expected in (("sum", [1.5, 2.0]), ("mean", [0.75, 1.0]),
                                  ("max", [1.0, 1.0]), ("min", [0.5, 1.0])):
        np.testing.assert_array_equal(
            kth_neighbor_distances(q, two, 2, n_branches=2, aggregation=aggregation), expected)
    # l2 and linf: the sqrt of the summed squares, the largest coordinate
    a = np.array([[3.0, 4.0], [1.0, 1.0]])
    np.testing.assert_array_equal(kth_neighbor_distances(np.zeros((1, 2)), a, 2, metric="l2"),
                                  [5.0])
    np.testing.assert_array_equal(
        kth_neighbor_distances(np.zeros((1, 2)), a, 2, metric="linf"), [4.0])


@pytest.mark.parametrize("metric", METRICS)
def test_kth_float32_near_ties_use_the_reference_arithmetic(metric):
    # Anchors at float64 distances radius +- a few float32 ulps from the query, so a float32
    # pass in another summation order cannot rank them: the k-th must still be KDTree's.
    rng = np.random.default_rng(13)
    width, radius = 16, 3.0
    step = rng.standard_normal((300, width))
    norm = {"l1": np.abs(step).sum(1), "l2": np.sqrt((step**2).sum(1)),
            "linf": np.abs(step).max(1)}[metric]
    query = rng.standard_normal((1, width)).astype(np.float32)
    anchors = (query + radius * step / norm[:, None]).astype(np.float32)
    anchors = np.vstack([anchors, query + 10.0])
    got = np.array([kth_neighbor_distances(query, anchors, k, metric=metric)[0]
                    for k in (1, 50, 150, 300)])
    expected = np.array([kdtree_branch_kth(query, anchors, k, 1, metric)[0, 0]
                         for k in (1, 50, 150, 300)])
    np.testing.assert_array_equal(got, expected)
    assert np.ptp(expected[:3]) < 1e-5 * radius  # the candidates are near-ties indeed


def test_kth_huge_magnitudes_stay_exact():
    # float32 sums overflow to inf in the fast pass; the k-th comes from float64 values.
    rng = np.random.default_rng(14)
    anchors = (rng.integers(-8, 9, size=(300, 4)) * 1e37).astype(np.float32)
    queries = (rng.integers(-8, 9, size=(20, 4)) * 1e37).astype(np.float32)
    for k in (1, 5, 300):
        got = branch_kth_neighbor_distances(queries, anchors, k)
        expected = kdtree_branch_kth(queries, anchors, k, 1, "l1")
        assert np.isfinite(expected).all()
        np.testing.assert_array_equal(got, expected)
    assert (expected > np.finfo(np.float32).max).any()  # beyond float32 for the farthest


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_kth_groups_equal_separate_calls(backend):
    rng = np.random.default_rng(15)
    anchors = rng.standard_normal((700, 6)).astype(np.float32)
    groups = rng.integers(0, 4, size=700)
    queries = rng.standard_normal((40, 6)).astype(np.float32)
    kwargs = {"n_branches": 3, "metric": "l2", "backend": backend, "device": "cpu"}
    got = kth_neighbor_distances(queries, anchors, 3, anchor_groups=groups, **kwargs)
    assert got.shape == (40, 4)
    loo = leave_one_out_kth_neighbor_distances(anchors, 3, anchor_groups=groups, **kwargs)
    for g in range(4):
        members = anchors[groups == g]
        np.testing.assert_array_equal(
            got[:, g], kdtree_branch_kth(queries, members, 3, 3, "l2").sum(1))
        np.testing.assert_array_equal(
            loo[groups == g], kdtree_branch_kth(members, members, 3, 3, "l2", True).sum(1))


def test_kth_torch_backend_equals_numba_and_chunks_threads_do_not_matter():
    rng = np.random.default_rng(16)
    anchors = rng.standard_normal((1500, 16)).astype(np.float32)
    queries = rng.standard_normal((333, 16)).astype(np.float32)
    reference = branch_kth_neighbor_distances(queries, anchors, 5, n_branches=4)
    for kwargs in ({"max_chunk_bytes": 1}, {"n_threads": 1}, {"n_threads": 2},
                   {"backend": "torch", "device": "cpu"}):
        got = branch_kth_neighbor_distances(queries, anchors, 5, n_branches=4, **kwargs)
        np.testing.assert_array_equal(got, reference)
    mixed = branch_kth_neighbor_distances(queries.astype(np.float64), anchors, 5, n_branches=4)
    np.testing.assert_array_equal(mixed, reference)


def test_kth_edge_sizes():
    anchors = np.array([[0.5, 1.0]], dtype=np.float32)
    assert kth_neighbor_distances(np.zeros((0, 2)), anchors, 1).shape == (0,)
    np.testing.assert_array_equal(kth_neighbor_distances(np.zeros((1, 2)), anchors, 1), [1.5])
    np.testing.assert_array_equal(leave_one_out_kth_neighbor_distances(np.vstack([anchors] * 2),
                                                                       1), [0.0, 0.0])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: kth_neighbor_distances(np.zeros((2, 4)), np.zeros((3, 4)), 4),
         "n_neighbors=4 is larger than the number of anchors, 3"),
        (lambda: kth_neighbor_distances(np.zeros((2, 4)), np.zeros((0, 4)), 1),
         "n_neighbors=1 is larger than the number of anchors, 0"),
        (lambda: leave_one_out_kth_neighbor_distances(np.zeros((3, 4)), 3),
         "n_neighbors=3 needs at least 4 anchors for leave-one-out distances"),
        (lambda: kth_neighbor_distances(np.zeros((2, 4)), np.zeros((6, 4)), 2,
                                        anchor_groups=[0, 0, 0, 1, 0, 0]),
         r"n_neighbors=2 is larger than the number of anchors \(group 1\), 1"),
        (lambda: leave_one_out_kth_neighbor_distances(np.zeros((6, 4)), 2,
                                                      anchor_groups=[0, 0, 0, 1, 1, 2]),
         r"at least 3 anchors \(group 2\)"),
        (lambda: kth_neighbor_distances(np.zeros((2, 4)), np.zeros((6, 4)), 0),
         "n_neighbors must be a positive int, got 0"),
        (lambda: kth_neighbor_distances(np.zeros((2, 4)), np.zeros((6, 4)), True),
         "n_neighbors must be a positive int, got True"),
        (lambda: kth_neighbor_distances(np.zeros((2, 4)), np.zeros((6, 4)), 2,
                                        aggregation="median"),
         "aggregation must be one of"),
        (lambda: kth_neighbor_distances(np.zeros((2, 4)), np.zeros((6, 4)), 2, n_branches=3),
         "must be a positive divisor"),
        (lambda: kth_neighbor_distances(np.array([[np.nan] * 4]), np.zeros((6, 4)), 2),
         "NaN or inf"),
    ],
)
def test_kth_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
