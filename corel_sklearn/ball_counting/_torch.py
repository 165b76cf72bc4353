"""Ball counting and k-th neighbour distances with torch on any device (meant for CUDA).

The distances of a (query block x anchor block) tile are computed per branch with
``torch.cdist`` on the device, in the input's precision. Counts: pairs within the proven rounding
band of the radius (see ``rounding_band``) are sent back to the CPU and decided with the
reference float64 arithmetic. k-th distances: a running ``topk`` of the fast distances bounds
the candidates; those within the proven error of that bound are sent back and their reference
distances ranked on the CPU. Both results are identical to the numba kernels'. Nothing here
touches CUDA before a counter is built.
"""

import numpy as np
import torch

from corel_sklearn._validation import METRIC_CODES
from corel_sklearn.ball_counting import _cpu
from corel_sklearn.ball_counting._rounding import error_bounds, rounding_band

_P = {"l1": 1.0, "l2": 2.0, "linf": float("inf")}
_TILE_ELEMENTS = 2**24  # distances per (query block x anchor block) tile: 64 MB in float32


def _to_device(array, dtype, device):
    # np.require copies read-only arrays, which torch.from_numpy would warn about
    return torch.from_numpy(np.require(array, dtype, ["C", "W"])).to(device)


class TorchBallCounter:
    """Anchors resident on ``device``; :meth:`count` returns per-branch counts as numpy."""

    def __init__(self, anchors, groups, n_groups, radius, n_branches, metric, device, dtype):
        self.device = torch.device("cuda" if device is None else device)
        self.anchors_host = anchors
        self.groups_host = groups
        self.n_groups = n_groups
        self.n_branches = n_branches
        self.width = anchors.shape[1] // n_branches
        self.metric = metric
        self.dtype = dtype
        lo, hi, self.threshold = rounding_band(radius, metric, self.width, dtype)
        if metric == "l2":  # cdist returns sqrt(sum of squares): a sqrt widened by 4 ulps
            u = float(np.finfo(dtype).eps)
            lo, hi = np.sqrt(float(lo)) * (1 - 4 * u), np.sqrt(float(hi)) * (1 + 4 * u)
        self.lo, self.hi = float(dtype(lo)), float(dtype(hi))
        self.anchors = _to_device(anchors, dtype, self.device)
        self.groups = _to_device(groups, np.int64, self.device)
        self.group_bounds = np.searchsorted(groups, np.arange(n_groups + 1))

    def count(self, queries, query_groups=None):
        """Per-branch counts (n_q, n_groups, n_branches), or (n_q, 1, n_branches) when each
        query meets only its own group (``query_groups`` sorted)."""
        n_out = 1 if query_groups is not None else self.n_groups
        out = np.zeros((queries.shape[0], n_out, self.n_branches), dtype=np.int64)
        if query_groups is None:
            self._count_range(queries, np.arange(queries.shape[0]), 0, self.anchors.shape[0],
                              out, own_group=False)
            return out
        q_bounds = np.searchsorted(query_groups, np.arange(self.n_groups + 1))
        for g in range(self.n_groups):
            rows = np.arange(q_bounds[g], q_bounds[g + 1])
            if rows.size:
                self._count_range(queries, rows, self.group_bounds[g], self.group_bounds[g + 1],
                                  out, own_group=True)
        return out

    def _count_range(self, queries, rows, a_start, a_stop, out, own_group):
        """Add the counts of ``queries[rows]`` against anchors ``[a_start, a_stop)`` to out."""
        n_anchors = a_stop - a_start
        if n_anchors == 0:
            return
        a_step = min(n_anchors, 8192)
        q_step = max(1, _TILE_ELEMENTS // a_step)
        w = self.width
        for q0 in range(0, rows.size, q_step):
            q_rows = rows[q0:q0 + q_step]
            q = _to_device(queries[q_rows], self.dtype, self.device)
            tile = torch.zeros((self.n_branches, q_rows.size, out.shape[1]), dtype=torch.int64,
                               device=self.device)
            for a0 in range(a_start, a_stop, a_step):
                a1 = min(a_stop, a0 + a_step)
                a = self.anchors[a0:a1]
                index = (torch.zeros(a1 - a0, dtype=torch.int64, device=self.device)
                         if own_group else self.groups[a0:a1])
                for k in range(self.n_branches):
                    d = torch.cdist(q[:, k * w:(k + 1) * w], a[:, k * w:(k + 1) * w],
                                    p=_P[self.metric],
                                    compute_mode="donot_use_mm_for_euclid_dist")
                    tile[k].index_add_(1, index, (d <= self.lo).to(torch.int64))
                    ambiguous = torch.nonzero((d > self.lo) & (d <= self.hi))
                    if ambiguous.shape[0]:
                        self._decide_exactly(queries, q_rows, ambiguous.cpu().numpy(), a0, k,
                                             out, own_group)
            out[q_rows] += tile.permute(1, 2, 0).cpu().numpy()

    def _decide_exactly(self, queries, q_rows, pairs, a0, k, out, own_group):
        query_index = q_rows[pairs[:, 0]]
        anchor_index = pairs[:, 1] + a0
        inside = _cpu.reference_within(
            queries, self.anchors_host, query_index, anchor_index,
            np.full(pairs.shape[0], k, dtype=np.int64), self.width,
            METRIC_CODES[self.metric], self.threshold,
        )
        groups = 0 if own_group else self.groups_host[anchor_index]
        np.add.at(out, (query_index, groups, k), inside.astype(np.int64))


class TorchKthNeighbors:
    """Anchors resident on ``device``; :meth:`smallest` returns the k smallest reference
    distances per branch (squared for l2, as the numba kernel), as numpy."""

    def __init__(self, anchors, groups, n_groups, n_neighbors, n_branches, metric, device,
                 dtype):
        self.device = torch.device("cuda" if device is None else device)
        self.anchors_host = anchors
        self.n_groups = n_groups
        self.n_neighbors = n_neighbors
        self.n_branches = n_branches
        self.width = anchors.shape[1] // n_branches
        self.metric = metric
        self.dtype = dtype
        relative, absolute = error_bounds(metric, self.width, dtype)
        if metric == "l2":  # cdist returns sqrt(sum of squares): one more rounding, halved error
            relative += 4 * float(np.finfo(dtype).eps)
            absolute = float(np.sqrt(absolute))
        # (fast + absolute) / (1 - relative) bounds the reference value from above, and a
        # reference value D has a fast value <= D * (1 + relative) + absolute; 2**-20 more
        # covers the float64 and float32 roundings of these expressions.
        self.relative = relative + 2.0**-20
        self.absolute = absolute + float(np.finfo(dtype).smallest_subnormal)
        self.anchors = _to_device(anchors, dtype, self.device)
        self.group_bounds = np.searchsorted(groups, np.arange(n_groups + 1))

    def _candidate_bound(self, kth_fast):
        """Fast distances above this cannot belong to the k nearest (see the class notes)."""
        upper = (kth_fast + self.absolute) / (1 - self.relative)
        return upper * (1 + self.relative) + self.absolute

    def smallest(self, queries, query_groups=None):
        """(n_q, n_groups or 1, n_branches, k) float64, ascending; queries meet only their own
        group when ``query_groups`` (sorted) is given."""
        n_out = 1 if query_groups is not None else self.n_groups
        k = self.n_neighbors
        out = np.full((queries.shape[0], n_out, self.n_branches, k), np.inf)
        if query_groups is None:
            for g in range(self.n_groups):
                self._smallest_range(queries, np.arange(queries.shape[0]),
                                     self.group_bounds[g], self.group_bounds[g + 1], out[:, g])
            return out
        q_bounds = np.searchsorted(query_groups, np.arange(self.n_groups + 1))
        for g in range(self.n_groups):
            rows = np.arange(q_bounds[g], q_bounds[g + 1])
            if rows.size:
                view = out[q_bounds[g]:q_bounds[g + 1], 0]
                self._smallest_range(queries, rows, self.group_bounds[g],
                                     self.group_bounds[g + 1], view, rows_offset=q_bounds[g])
        return out

    def _smallest_range(self, queries, rows, a_start, a_stop, out, rows_offset=0):
        """Fill ``out[rows - rows_offset]`` (n, n_branches, k) from anchors [a_start, a_stop)."""
        k = self.n_neighbors
        if a_stop - a_start < k:
            return  # fewer anchors than k: the caller refuses this before
        a_step = max(k, min(a_stop - a_start, 8192))
        q_step = max(1, _TILE_ELEMENTS // a_step)
        w = self.width
        for q0 in range(0, rows.size, q_step):
            q_rows = rows[q0:q0 + q_step]
            q = _to_device(queries[q_rows], self.dtype, self.device)
            for b in range(self.n_branches):
                cols = slice(b * w, (b + 1) * w)
                running = torch.full((q_rows.size, k), float("inf"), dtype=q.dtype,
                                     device=self.device)
                found = []
                for a0 in range(a_start, a_stop, a_step):
                    a1 = min(a_stop, a0 + a_step)
                    d = torch.cdist(q[:, cols], self.anchors[a0:a1, cols], p=_P[self.metric],
                                    compute_mode="donot_use_mm_for_euclid_dist")
                    running = torch.topk(torch.cat([running, d], dim=1), k, dim=1,
                                         largest=False).values
                    bound = self._candidate_bound(running[:, k - 1].double())
                    pairs = torch.nonzero(d.double() <= bound[:, None])
                    found.append((pairs[:, 0].cpu().numpy(), pairs[:, 1].cpu().numpy() + a0,
                                  d[pairs[:, 0], pairs[:, 1]].double().cpu().numpy()))
                bound = self._candidate_bound(running[:, k - 1].double()).cpu().numpy()
                local = np.concatenate([f[0] for f in found])
                anchor_index = np.concatenate([f[1] for f in found])
                fast = np.concatenate([f[2] for f in found])
                keep = fast <= bound[local]  # the bound only tightened over the chunks
                local, anchor_index = local[keep], anchor_index[keep]
                exact = _cpu.reference_distances(
                    queries, self.anchors_host, q_rows[local], anchor_index,
                    np.full(local.size, b, dtype=np.int64), self.width,
                    METRIC_CODES[self.metric],
                )
                order = np.lexsort((exact, local))
                local, exact = local[order], exact[order]
                starts = np.searchsorted(local, np.arange(q_rows.size))
                # every query keeps at least its k running neighbours as candidates
                picks = starts[:, None] + np.arange(k)
                out[q_rows - rows_offset, b] = exact[picks]
