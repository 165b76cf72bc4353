"""Results of the one-class protocol: summary statistics, terminal table, CSV, JSON and PNG."""

import csv
import json
import os

import numpy as np


class OneClassResult:
    """Per-draw AUROCs of the one-class protocol, with summaries and writers.

    Parameters
    ----------
    records : list of dict
        One per (method, class, draw) with keys ``method``, ``inlier_class``, ``class_name``,
        ``draw`` and ``auroc``.
    methods : list of str
        Method names in display order.
    class_names : list of str
        Class names in display order (the classes that were run).
    settings : dict, default=None
        The run's settings (JSON-serialisable), written into the JSON report.
    timings : dict, default=None
        Seconds spent per phase or method.

    Notes
    -----
    ``std`` is the population standard deviation (``ddof=0``) over draws. The "mean" row is the
    mean over classes of the per-class means; its ``std`` is the spread over draws of the
    per-draw mean over classes (how much the headline number moves from draw to draw).

    Examples
    --------
    >>> from corel_sklearn.experiments import OneClassResult
    >>> records = [dict(method="m", inlier_class=c, class_name=str(c), draw=d, auroc=a)
    ...            for c, d, a in [(0, 0, 0.8), (0, 1, 0.9), (1, 0, 0.6), (1, 1, 0.7)]]
    >>> result = OneClassResult(records, ["m"], ["0", "1"])
    >>> mean, std = result.summary()["m"]["mean"]
    >>> round(mean, 3), round(std, 3)
    (0.75, 0.05)
    """

    def __init__(self, records, methods, class_names, settings=None, timings=None):
        self.records = list(records)
        self.methods = list(methods)
        self.class_names = [str(c) for c in class_names]
        self.settings = dict(settings or {})
        self.timings = dict(timings or {})

    def aurocs(self, method):
        """AUROCs of ``method`` as an array of shape (n_classes, n_draws)."""
        rows = [r for r in self.records if r["method"] == method]
        if not rows:
            raise KeyError(f"No results for method {method!r}; have {self.methods}.")
        draws = sorted({r["draw"] for r in rows})
        table = np.full((len(self.class_names), len(draws)), np.nan)
        for r in rows:
            table[self.class_names.index(str(r["class_name"])), draws.index(r["draw"])] = r["auroc"]
        return table

    def summary(self):
        """``{method: {class_name or "mean": (mean, std)}}`` over draws (see Notes)."""
        out = {}
        for method in self.methods:
            table = self.aurocs(method)
            stats = {name: (float(np.mean(row)), float(np.std(row)))
                     for name, row in zip(self.class_names, table, strict=True)}
            per_draw = table.mean(axis=0)
            stats["mean"] = (float(table.mean()), float(np.std(per_draw)))
            out[method] = stats
        return out

    def table(self, digits=3):
        """The summary as a plain-text table: classes down, methods across."""
        summary = self.summary()
        rows = [*self.class_names, "mean"]
        cells = [[f"{summary[m][r][0]:.{digits}f} ± {summary[m][r][1]:.{digits}f}"
                  for m in self.methods] for r in rows]
        header = ["class", *self.methods]
        body = [[r, *c] for r, c in zip(rows, cells, strict=True)]
        widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
        fmt = lambda line: "  ".join(  # noqa: E731
            str(v).ljust(w) if i == 0 else str(v).rjust(w)
            for i, (v, w) in enumerate(zip(line, widths, strict=True))
        )
        rule = "-" * len(fmt(header))
        return "\n".join([fmt(header), rule, *map(fmt, body[:-1]), rule, fmt(body[-1])])

    def to_csv(self, path):
        """Write one row per (method, class, draw): the raw AUROCs."""
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(
                f, ["method", "inlier_class", "class_name", "draw", "auroc"], extrasaction="ignore"
            )
            writer.writeheader()
            writer.writerows(self.records)
        return path

    def summary_to_csv(self, path):
        """Write one row per (method, class or "mean") with mean and std over draws."""
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["method", "class_name", "mean_auroc", "std_auroc"])
            for method, stats in self.summary().items():
                for name, (mean, std) in stats.items():
                    writer.writerow([method, name, f"{mean:.6f}", f"{std:.6f}"])
        return path

    def to_json(self, path):
        """Write settings, timings, the summary and every per-draw AUROC."""
        summary = {m: {k: {"mean": v[0], "std": v[1]} for k, v in s.items()}
                   for m, s in self.summary().items()}
        payload = {"settings": self.settings, "timings_s": self.timings, "summary": summary,
                   "records": [_jsonable(r) for r in self.records]}
        with open(path, "w") as f:
            json.dump(payload, f, indent=2, default=str)
        return path

    def plot(self, path, title=None):
        """Grouped bar chart of per-class mean AUROC with std error bars; returns ``path``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        summary = self.summary()
        groups = [*self.class_names, "mean"]
        x = np.arange(len(groups))
        width = 0.8 / len(self.methods)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) + 4), 4.0))
        lowest = 1.0
        for i, method in enumerate(self.methods):
            means = np.array([summary[method][g][0] for g in groups])
            stds = np.array([summary[method][g][1] for g in groups])
            lowest = min(lowest, float((means - stds).min()))
            ax.bar(x - 0.4 + (i + 0.5) * width, means, width, yerr=stds, capsize=2, label=method)
        # Zoom on the bars (AUROCs near 1 would look identical on [0, 1]); 0.5 is chance.
        bottom = max(0.0, np.floor((lowest - 0.02) * 20) / 20)
        if bottom < 0.5:
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_ylim(bottom, 1.0)
        ax.set_xticks(x, groups, rotation=30, ha="right")
        ax.set_ylabel("AUROC (mean ± std over draws)")
        ax.set_title(title or self.settings.get("title", "one-class AUROC per class"))
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path

    def save(self, folder, plot=True):
        """Write ``aurocs.csv``, ``summary.csv``, ``results.json`` and ``aurocs.png``.

        Returns the dict of written paths. The plot is skipped (with a note in the returned
        dict) when matplotlib is not installed.
        """
        return save_report_files(self, folder, plot=plot)


def save_report_files(report, folder, prefix="", plot=True):
    """Write a report's ``aurocs.csv``, ``summary.csv``, ``results.json``, ``aurocs.png``.

    Each name gets ``prefix``; the plot is None when matplotlib is not installed. Returns the
    dict of written paths.
    """
    os.makedirs(folder, exist_ok=True)
    paths = {
        "csv": report.to_csv(os.path.join(folder, f"{prefix}aurocs.csv")),
        "summary_csv": report.summary_to_csv(os.path.join(folder, f"{prefix}summary.csv")),
        "json": report.to_json(os.path.join(folder, f"{prefix}results.json")),
    }
    if plot:
        try:
            paths["png"] = report.plot(os.path.join(folder, f"{prefix}aurocs.png"))
        except ImportError:
            paths["png"] = None
    return paths


def _jsonable(record):
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in record.items()}
