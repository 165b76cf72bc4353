"""The one result type of every runner: summary, terminal table, CSV, JSON and PNG."""

import csv
import json
import os

import numpy as np
from scipy.stats import rankdata

from corel_sklearn._files import atomic_write

# A set is copy-affected when at least this share of its normal test rows has an exact copy
# among the training rows (``copy_share``); reports give its means apart.
COPY_AFFECTED_SHARE = 0.25


class BenchmarkInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a runner: a ``KeyboardInterrupt`` that carries what was finished.

    Raised by :func:`~corel_sklearn.experiments.run_one_class_protocol` (and caught by the
    command line, which writes ``result`` with the ``partial_`` file names before it exits
    with status 130). Code that catches ``KeyboardInterrupt`` catches it too.

    Parameters
    ----------
    result : BenchmarkResult or None
        The finished runs, with ``partial=True``; None when none finished.

    Examples
    --------
    >>> from corel_sklearn.experiments import BenchmarkInterrupted, BenchmarkResult
    >>> done = BenchmarkResult([dict(method="m", group="a", run=0, auroc=0.9)], ["m"], ["a"],
    ...                        partial=True)
    >>> try:
    ...     raise BenchmarkInterrupted(done)
    ... except KeyboardInterrupt as exc:
    ...     print(exc.result.partial, len(exc.result.records))
    True 1
    """

    def __init__(self, result=None):
        super().__init__("interrupted")
        self.result = result


class BenchmarkResult:
    """Per-run AUROCs of a protocol, grouped (by class or dataset), with summaries and writers.

    Parameters
    ----------
    records : list of dict
        One per (method, group, run) with at least the keys ``method``, ``group``, ``run`` and
        ``auroc``; other keys (``inlier_class``, ``seconds``...) are kept in the CSV and JSON.
    methods : list of str
        Method names in display order.
    groups : list of str
        Groups in display order: the inlier classes of the one-class protocol, the datasets of
        the ODDS and ADBench runs.
    group_label : str, default="class"
        What a group is, for headers ("class", "dataset").
    run_label : str, default="draw"
        What a run is ("draw", "trial", "seed").
    settings : dict, default=None
        The run's settings (JSON-serialisable), written into the JSON report.
    timings : dict, default=None
        Seconds spent per phase or method.
    published : dict, default=None
        ``{group: {detector: auroc}}`` published figures, printed beside ours.
    info : dict, default=None
        ``{group: {key: value}}`` descriptions of each group (e.g. ``n_samples``), written
        into the summary CSV.
    partial : bool, default=False
        The run was interrupted and ``records`` hold only the runs that finished. The
        statistics of a group are then over its finished runs, :meth:`table` says so in its
        first line, :meth:`to_json` writes ``"partial": true`` and :meth:`save` writes
        ``<prefix>partial_aurocs.csv`` and so on, never the names of a finished run.

    Notes
    -----
    ``std`` is the population standard deviation (``ddof=0``) over runs. The "mean" row is the
    mean over groups of the per-group means; its ``std`` is the spread over runs of the
    per-run mean over groups (how much the headline number moves from run to run).

    Examples
    --------
    >>> from corel_sklearn.experiments import BenchmarkResult
    >>> records = [dict(method="m", group=str(c), run=d, auroc=a)
    ...            for c, d, a in [(0, 0, 0.8), (0, 1, 0.9), (1, 0, 0.6), (1, 1, 0.7)]]
    >>> result = BenchmarkResult(records, ["m"], ["0", "1"])
    >>> mean, std = result.summary()["m"]["mean"]
    >>> round(mean, 3), round(std, 3)
    (0.75, 0.05)
    """

    def __init__(self, records, methods, groups, *, group_label="class", run_label="draw",
                 settings=None, timings=None, published=None, info=None, partial=False):
        self.records = list(records)
        self.methods = list(methods)
        self.groups = [str(g) for g in groups]
        self.group_label = group_label
        self.run_label = run_label
        self.settings = dict(settings or {})
        self.timings = dict(timings or {})
        self.published = {str(k): dict(v) for k, v in (published or {}).items()}
        self.info = dict(info or {})
        self.partial = bool(partial)

    @classmethod
    def concat(cls, results, *, partial=None):
        """One result from several over the same methods and different groups.

        Records, groups, published figures and group infos are joined in order; timings are
        added up; settings are the first result's.

        Parameters
        ----------
        results : sequence of BenchmarkResult
            At least one; same methods and labels, no group twice.
        partial : bool, default=None
            Mark the joined result partial; None: partial when any input is.

        Returns
        -------
        result : BenchmarkResult

        Examples
        --------
        >>> from corel_sklearn.experiments import BenchmarkResult
        >>> a = BenchmarkResult([dict(method="m", group="a", run=0, auroc=0.8)], ["m"], ["a"])
        >>> b = BenchmarkResult([dict(method="m", group="b", run=0, auroc=0.6)], ["m"], ["b"])
        >>> both = BenchmarkResult.concat([a, b])
        >>> both.groups, round(both.summary()["m"]["mean"][0], 3)
        (['a', 'b'], 0.7)
        """
        results = list(results)
        if not results:
            raise ValueError("concat needs at least one BenchmarkResult.")
        first = results[0]
        groups = [g for r in results for g in r.groups]
        if len(set(groups)) != len(groups):
            raise ValueError(f"concat: a group appears twice in {groups}.")
        for other in results[1:]:
            if other.methods != first.methods:
                raise ValueError(f"concat: methods differ ({first.methods} vs {other.methods}).")
        timings = {}
        for r in results:
            for key, seconds in r.timings.items():
                timings[key] = timings.get(key, 0.0) + seconds
        return cls([rec for r in results for rec in r.records], first.methods, groups,
                   group_label=first.group_label, run_label=first.run_label,
                   settings=first.settings, timings=timings,
                   published={k: v for r in results for k, v in r.published.items()},
                   info={k: v for r in results for k, v in r.info.items()},
                   partial=any(r.partial for r in results) if partial is None else partial)

    def aurocs(self, method):
        """AUROCs of ``method`` as an array of shape (n_groups, n_runs); NaN where not run."""
        rows = [r for r in self.records if r["method"] == method]
        if not rows:
            raise KeyError(f"No results for method {method!r}; have {self.methods}.")
        runs = sorted({r["run"] for r in rows})
        table = np.full((len(self.groups), len(runs)), np.nan)
        for r in rows:
            table[self.groups.index(str(r["group"])), runs.index(r["run"])] = r["auroc"]
        return table

    def summary(self):
        """``{method: {group or "mean": (mean, std)}}`` over runs (see Notes)."""
        # A partial result may miss runs of its last group: its statistics are over the runs
        # that finished. A finished result has none missing, and a NaN there stays visible.
        mean, std = (np.nanmean, np.nanstd) if self.partial else (np.mean, np.std)
        out = {}
        for method in self.methods:
            table = self.aurocs(method)
            stats = {name: (float(mean(row)), float(std(row)))
                     for name, row in zip(self.groups, table, strict=True)}
            stats["mean"] = (float(np.mean(mean(table, axis=1))),
                             float(std(mean(table, axis=0))))
            out[method] = stats
        return out

    def published_columns(self):
        """Detectors with a published figure for at least one group, in first-seen order."""
        columns = {}
        for name in self.groups:
            columns.update(dict.fromkeys(self.published.get(name, {})))
        return list(columns)

    def table(self, digits=3):
        """Groups down, methods across (mean ± std over runs), published means on the right."""
        summary = self.summary()
        pub_cols = self.published_columns()
        rows = [*self.groups, "mean"]
        header = [self.group_label, *self.methods, *[f"pub {c}" for c in pub_cols]]
        body = []
        for row in rows:
            ours = [f"{summary[m][row][0]:.{digits}f} ± {summary[m][row][1]:.{digits}f}"
                    for m in self.methods]
            if row == "mean":
                pub = [_fmt(_mean_or_none([self.published.get(n, {}).get(c)
                                           for n in self.groups]), digits) for c in pub_cols]
            else:
                pub = [_fmt(self.published.get(row, {}).get(c), digits) for c in pub_cols]
            body.append([row, *ours, *pub])
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

        def fmt(line):
            return "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                             for i, (v, w) in enumerate(zip(line, widths, strict=True)))

        rule = "-" * len(fmt(header))
        lines = [fmt(header), rule, *map(fmt, body[:-1]), rule, fmt(body[-1])]
        if self.partial:
            runs = len({(r["group"], r["run"]) for r in self.records})
            lines.insert(0, f"PARTIAL: interrupted; {runs} finished "
                         f"{self.group_label}-{self.run_label} pairs only")
        verdict = self.verdict(summary)
        return "\n".join([*lines, verdict] if verdict else lines)

    def ranking(self, copy_threshold=COPY_AFFECTED_SHARE):
        """Mean AUROC over all, clean and copy-affected groups, and mean rank, per method.

        A group is copy-affected when ``info[group]["copy_share"]`` (the share of normal test
        rows with an exact copy among the training rows) is at least ``copy_threshold``;
        without that info every group counts as clean. The rank of a method on a group is its
        place (1 = best, ties averaged) among the main methods, the names without a hyphen
        (COREL and the baselines); a variant (``COREL-count``, ``BallCount-AE``) is ranked in
        COREL's place against the same others.

        Returns
        -------
        rows : dict
            ``{method: {"all": mean, "clean": mean, "copy": mean, "rank": mean rank}}``
            (NaN where a subset is empty), with ``"groups"``: ``(n_all, n_clean, n_copy)``.
        """
        summary = self.summary()
        copy = [n for n in self.groups
                if self.info.get(n, {}).get("copy_share", 0.0) >= copy_threshold]
        clean = [n for n in self.groups if n not in copy]
        main = [m for m in self.methods if "-" not in m]
        rows = {}
        for method in self.methods:
            others = [m for m in main if m != method and not (
                "-" in method and m == "COREL")]
            ranks = [rankdata([-summary[method][n][0],
                               *[-summary[m][n][0] for m in others]])[0] for n in self.groups]

            def mean(names, method=method):
                return float(np.mean([summary[method][n][0] for n in names])) if names \
                    else float("nan")

            rows[method] = {"all": mean(self.groups), "clean": mean(clean), "copy": mean(copy),
                            "rank": float(np.mean(ranks))}
        rows["groups"] = (len(self.groups), len(clean), len(copy))
        return rows

    def ranking_table(self, copy_threshold=COPY_AFFECTED_SHARE):
        """:meth:`ranking` as text lines, best mean rank first."""
        rows = self.ranking(copy_threshold)
        n_all, n_clean, n_copy = rows.pop("groups")
        heads = (f"all ({n_all})", f"clean ({n_clean})", f"copy ({n_copy})")
        lines = [f"{'method':<14} {heads[0]:>9} {heads[1]:>11} {heads[2]:>10} {'mean rank':>10}"]
        for method, r in sorted(rows.items(), key=lambda item: item[1]["rank"]):
            lines.append(f"{method:<14} {r['all']:9.3f} {r['clean']:11.3f} {r['copy']:10.3f}"
                         f" {r['rank']:10.2f}")
        return "\n".join(lines)

    def verdict(self, summary=None):
        """One line: on how many groups COREL beats every other method run (and published)."""
        summary = summary or self.summary()
        # COREL's own variants (COREL-count: the same codes, another score) are not rivals
        others = [m for m in self.methods if m != "COREL" and not m.startswith("COREL-")]
        if "COREL" not in self.methods or not others or len(self.groups) < 2:
            return ""
        corel = summary["COREL"]
        wins = sum(corel[n][0] > max(summary[m][n][0] for m in others) for n in self.groups)
        plural = "classes" if self.group_label == "class" else f"{self.group_label}s"
        line = f"COREL beats all of {others} (run here) on {wins} of {len(self.groups)} {plural}"
        published = [n for n in self.groups if self.published.get(n)]
        if published:
            beat = sum(corel[n][0] > max(self.published[n].values()) for n in published)
            line += (f", and the best published figure of {self.published_columns()} on {beat} "
                     f"of {len(published)}")
        return line + "."

    def to_csv(self, path):
        """Write one row per (method, group, run): the raw AUROCs and any extra keys."""
        fields = list(dict.fromkeys(k for r in self.records for k in r))
        with atomic_write(path, "w") as f:
            writer = csv.DictWriter(f, fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.records)
        return path

    def summary_to_csv(self, path):
        """Write one row per group (and "mean"): info, mean and std per method, published."""
        summary = self.summary()
        info_keys = list(dict.fromkeys(k for v in self.info.values() for k in v))
        pub_cols = self.published_columns()
        with atomic_write(path, "w") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow([self.group_label, *info_keys,
                             *[f"{m}_mean" for m in self.methods],
                             *[f"{m}_std" for m in self.methods],
                             *[f"published_{c}" for c in pub_cols]])
            for name in [*self.groups, "mean"]:
                info = self.info.get(name, {})
                if name == "mean":
                    pub = [_mean_or_none([self.published.get(n, {}).get(c) for n in self.groups])
                           for c in pub_cols]
                else:
                    pub = [self.published.get(name, {}).get(c) for c in pub_cols]
                writer.writerow([name, *[_cell(info.get(k)) for k in info_keys],
                                 *[f"{summary[m][name][0]:.6f}" for m in self.methods],
                                 *[f"{summary[m][name][1]:.6f}" for m in self.methods],
                                 *[_cell(v) for v in pub]])
        return path

    def to_json(self, path):
        """Write settings, timings, group info, the summary, published figures and records."""
        summary = {m: {k: {"mean": v[0], "std": v[1]} for k, v in s.items()}
                   for m, s in self.summary().items()}
        payload = {"partial": self.partial, "settings": self.settings,
                   "timings_s": self.timings, "info": self.info, "summary": summary,
                   "published": {n: self.published[n] for n in self.groups if n in self.published},
                   "records": [_jsonable(r) for r in self.records]}
        with atomic_write(path, "w") as f:
            json.dump(payload, f, indent=2, default=str)
        return path

    def plot(self, path, title=None):
        """Grouped bars of mean AUROC per group (std error bars), published means as marks."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        summary = self.summary()
        groups = [*self.groups, "mean"]
        x = np.arange(len(groups))
        width = 0.8 / len(self.methods)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(groups) + 4), 4.0))
        lowest = 1.0
        for i, method in enumerate(self.methods):
            means = np.array([summary[method][g][0] for g in groups])
            stds = np.array([summary[method][g][1] for g in groups])
            lowest = min(lowest, float(np.nanmin(means - stds)))
            ax.bar(x - 0.4 + (i + 0.5) * width, means, width, yerr=stds, capsize=2, label=method)
        for column, marker in zip(self.published_columns(), "_x.+*^v<>", strict=False):
            values = [self.published.get(g, {}).get(column, np.nan) for g in self.groups]
            i = self.methods.index(column) if column in self.methods else None
            xs = x[:-1] if i is None else x[:-1] - 0.4 + (i + 0.5) * width
            ax.plot(xs, values, ls="none", marker=marker, ms=7, color="k",
                    label=f"published {column}")
            lowest = min(lowest, float(np.nanmin(values + [1.0])))
        # Zoom on the bars (AUROCs near 1 would look identical on [0, 1]); 0.5 is chance.
        bottom = max(0.0, np.floor((lowest - 0.02) * 20) / 20)
        if bottom < 0.5:
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_ylim(bottom, 1.0)
        ax.set_xticks(x, groups, rotation=40, ha="right")
        ax.set_ylabel(f"AUROC (mean ± std over {self.run_label}s)")
        ax.set_title(title or self.settings.get("title", f"AUROC per {self.group_label}"))
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        try:
            with atomic_write(path) as f:
                fig.savefig(f, format="png", dpi=120)
        finally:
            plt.close(fig)
        return path

    def save(self, folder, prefix="", plot=True):
        """Write ``aurocs.csv``, ``summary.csv``, ``results.json`` and ``aurocs.png``.

        Each name gets ``prefix``, and a partial result ``partial_`` after it
        (``odds_partial_aurocs.csv``), so it never replaces the files of a finished run.
        Every file is written to a temporary name and renamed when complete. Returns the
        dict of written paths; the plot is None when matplotlib is not installed.
        """
        if self.partial:
            prefix = f"{prefix}partial_"
        os.makedirs(folder, exist_ok=True)
        paths = {
            "csv": self.to_csv(os.path.join(folder, f"{prefix}aurocs.csv")),
            "summary_csv": self.summary_to_csv(os.path.join(folder, f"{prefix}summary.csv")),
            "json": self.to_json(os.path.join(folder, f"{prefix}results.json")),
        }
        if plot:
            try:
                paths["png"] = self.plot(os.path.join(folder, f"{prefix}aurocs.png"))
            except ImportError:
                paths["png"] = None
        return paths


def _fmt(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


def _cell(value):
    if value is None:
        return ""
    return f"{value:.4f}" if isinstance(value, float) else value


def _mean_or_none(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _jsonable(record):
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in record.items()}
