"""Ball counting with torch on any device (meant for CUDA): blocked ``torch.cdist`` per branch.

The distances of a (query block x anchor block) tile are computed on the device in the input's
precision; pairs within the proven rounding band of the radius (see ``rounding_band``) are sent
back to the CPU and decided with the reference float64 arithmetic, so the counts are identical
to the numba kernel's. Nothing here touches CUDA before a counter is built.
"""

import numpy as np
import torch

from corel_sklearn._validation import METRIC_CODES
from corel_sklearn.ball_counting import _cpu
from corel_sklearn.ball_counting._ball_counts import rounding_band

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
