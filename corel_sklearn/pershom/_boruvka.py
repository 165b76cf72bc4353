"""Borůvka minimum spanning trees on the dense distance matrix, with torch ops (any device).

Prim is B serial steps, each a reduction over the free points; on a GPU one program per branch
runs them, so a single large cloud keeps one multiprocessor busy for B steps. Borůvka does
ceil(log2 B) rounds instead, each a reduction over all rows of the distance matrix: every
component takes its shortest outgoing edge and the components merge. Every round is a few
device-wide torch ops on the (n_branches, B, B) matrix, with no host round trip.

Trees. Under ties Borůvka's tree may differ from Prim's: no fixed order of the edges reproduces
Prim's tie rule (which parent a vertex keeps depends on the order vertices joined). So each
round also checks that every component's shortest outgoing edge is unique (no other edge
leaving it has the same length). If that holds in every round, each chosen edge is the
strictly lightest edge across a cut, hence in every minimum spanning tree: the tree is unique
and is the one Prim finds. :func:`branch_mst_boruvka` returns that verdict as a device tensor
(reading it is the caller's only host synchronisation), and the caller runs Prim when it is
false (ties, duplicate points, NaN).

Distances come from ``torch.cdist`` (exact differences, no ``|a|^2 + |b|^2 - 2ab`` expansion),
so they agree with the Prim kernels' to rounding; the tree is found on them, the returned
lengths are read from the same matrix.
"""

import math

import torch

_CDIST_P = {"l1": 1.0, "l2": 2.0, "linf": float("inf")}


def boruvka_rounds(n_points):
    """Rounds that merge ``n_points`` singletons into one tree (each at least halves them)."""
    return max(math.ceil(math.log2(n_points)), 1) if n_points > 1 else 0


def branch_mst_boruvka(x, n_branches, metric):
    """MST of each branch of ``x`` (B, n_branches * width) by Borůvka rounds on the distances.

    Returns ``edges`` (n_branches, B-1, 2) int64, ``lengths`` (n_branches, B-1) in ``x``'s
    floating dtype, sorted by increasing length per branch (stable), and ``unique``: a 0-dim
    bool tensor on ``x.device``, true when every chosen edge was the unique shortest edge
    leaving its component (the minimum spanning tree is then unique, so it is Prim's tree up to
    the order of equal lengths and of each edge's two ends). When it is false the edges are
    not to be used.
    """
    x = x.detach()
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    n, dim = x.shape
    width = dim // n_branches
    device = x.device
    m = max(n - 1, 0)
    if n < 2:
        empty_edges = torch.zeros((n_branches, m, 2), dtype=torch.long, device=device)
        empty_lengths = torch.zeros((n_branches, m), dtype=x.dtype, device=device)
        return empty_edges, empty_lengths, torch.ones((), dtype=torch.bool, device=device)
    points = x.reshape(n, n_branches, width).transpose(0, 1)  # (n_branches, B, width)
    dist = torch.cdist(points, points, p=_CDIST_P[metric],
                       compute_mode="donot_use_mm_for_euclid_dist")
    inf = torch.tensor(float("inf"), dtype=dist.dtype, device=device)
    vertex = torch.arange(n, device=device).expand(n_branches, n)
    component = vertex.clone()  # label of each vertex: a vertex of its component
    # n slots per branch: the B-1 tree edges, then one slot that absorbs discarded writes.
    slots = torch.zeros((n_branches, n, 2), dtype=torch.long, device=device)
    count = torch.zeros((n_branches, 1), dtype=torch.long, device=device)
    ambiguous = torch.zeros((), dtype=torch.bool, device=device)
    rounds = boruvka_rounds(n)
    for r in range(rounds):
        outside = dist.masked_fill(component.unsqueeze(2) == component.unsqueeze(1), inf)
        row_min, row_arg = outside.min(dim=2)
        row_ties = (outside == row_min.unsqueeze(2)).sum(dim=2)
        # Per component (indexed by its label): its shortest outgoing length, how many edges
        # reach it, and the smallest vertex with such an edge.
        component_min = torch.full_like(row_min, float("inf")).scatter_reduce(
            1, component, row_min, "amin")
        attains = (row_min == component_min.gather(1, component)) & (row_min < inf)
        ties = torch.zeros_like(component).scatter_add(
            1, component, torch.where(attains, row_ties, 0))
        ambiguous |= (ties > 1).any()
        source = torch.full_like(component, n).scatter_reduce(
            1, component, torch.where(attains, vertex, n), "amin")
        active = source < n
        source = source.clamp(max=n - 1)
        target_vertex = row_arg.gather(1, source)
        target = torch.where(active, component.gather(1, target_vertex), vertex)
        # Two components that chose each other chose the same edge: the smaller label records
        # it and stays a root, the other hooks onto it.
        mutual = target.gather(1, target) == vertex
        records = active & ~(mutual & (vertex > target))
        position = (count + records.cumsum(1) - 1).clamp(max=n - 1)
        position = torch.where(records, position, n - 1)
        slots.scatter_(1, position.unsqueeze(2).expand(-1, -1, 2),
                       torch.stack([source, target_vertex], dim=2))
        count = count + records.sum(1, keepdim=True)
        parent = torch.where(active & ~(mutual & (vertex < target)), target, vertex)
        # Pointer jumping: a hook chain is shorter than the number of components left.
        for _ in range(max(math.ceil(math.log2(n)) - r, 1)):
            parent = parent.gather(1, parent)
        component = parent.gather(1, component)
    ambiguous |= (count != m).any()
    edges = slots[:, :m]
    branch = torch.arange(n_branches, device=device).unsqueeze(1)
    lengths = dist[branch, edges[..., 0], edges[..., 1]]
    lengths, order = torch.sort(lengths, dim=1, stable=True)
    edges = torch.gather(edges, 1, order.unsqueeze(-1).expand(-1, -1, 2))
    return edges, lengths, ~ambiguous
