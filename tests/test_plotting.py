import sys
import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from _small_autoencoder import small  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402
from sklearn.neighbors import KDTree  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from corel_sklearn import (  # noqa: E402
    BallCountOneClass,
    ClasswiseBallCount,
    TopoAutoencoder,
    plotting,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _render(ax, tmp_path, name):
    """Draw the figure to a PNG and check the image is real (non-blank) pixels."""
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.01  # something besides the background was drawn
    return path


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


HISTORY = [
    {"epoch": 1, "reconstruction_loss": 9.0, "connectivity_loss": 40.0,
     "death_time_min": 0.1, "death_time_median": 0.8, "death_time_mean": 0.7,
     "death_time_max": 1.4},
    {"epoch": 2, "reconstruction_loss": 6.0, "connectivity_loss": 12.0,
     "death_time_min": 0.9, "death_time_median": 1.7, "death_time_mean": 1.6,
     "death_time_max": 2.5},
    {"epoch": 3, "reconstruction_loss": 5.0, "connectivity_loss": 4.0,
     "death_time_min": 1.5, "death_time_median": 2.0, "death_time_mean": 2.0,
     "death_time_max": 2.4},
]


def test_training_history_draws_band_median_and_eta(tmp_path):
    ax = plotting.plot_training_history(HISTORY, eta=2.0)
    _render(ax, tmp_path, "history")
    median, eta_line = ax.get_lines()
    np.testing.assert_array_equal(median.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(median.get_ydata(), [0.8, 1.7, 2.0])  # median, not mean
    np.testing.assert_array_equal(eta_line.get_ydata(), [2.0, 2.0])
    assert eta_line.get_linestyle() == "--"
    # the band is one polygon spanning min..max: its vertices are exactly those values
    (band,) = ax.collections
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.1) and ys.max() == pytest.approx(2.5)
    assert set(np.round(ys, 6)) >= {0.1, 0.9, 1.5, 1.4, 2.5, 2.4}
    assert _legend_texts(ax) == ["death times (min to max)", "death time (median)", "eta = 2"]
    assert ax.get_xlabel() == "epoch" and "death time" in ax.get_ylabel()


def test_training_history_from_estimator_and_dataframe(rng):
    pandas = pytest.importorskip("pandas")
    X = rng.random((40, 6), dtype=np.float32)
    ae = small(max_epochs=3, eta=1.5).fit(X)
    ax = plotting.plot_training_history(ae)
    centre_line, eta_line = ax.get_lines()  # the median, which the estimator records
    np.testing.assert_array_equal(centre_line.get_ydata(),
                                  [r["death_time_median"] for r in ae.history_])
    np.testing.assert_array_equal(eta_line.get_ydata(), [1.5, 1.5])  # eta from the estimator
    ax2 = plotting.plot_training_history(pandas.DataFrame(ae.history_))
    np.testing.assert_array_equal(ax2.get_lines()[0].get_ydata(), centre_line.get_ydata())
    assert len(ax2.get_lines()) == 1  # no eta known, no eta line


def test_training_history_falls_back_to_mean_and_draws_on_given_axes():
    history = [{k: v for k, v in r.items() if k != "death_time_median"} for r in HISTORY]
    fig, (left, right) = plt.subplots(1, 2)
    ax = plotting.plot_training_history(history, ax=right)
    assert ax is right and not left.get_lines()
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [0.7, 1.6, 2.0])
    assert _legend_texts(ax)[1] == "death time (mean)"


def test_training_history_rejects_bad_input():
    with pytest.raises(ValueError, match="death_time_min"):
        plotting.plot_training_history([{"epoch": 1, "reconstruction_loss": 1.0}])
    with pytest.raises(ValueError, match="non-empty list of dicts"):
        plotting.plot_training_history([])
    with pytest.raises(ValueError, match="needs fit first"):
        plotting.plot_training_history(TopoAutoencoder())


def test_loss_history_lines_and_log_scale(tmp_path):
    ax = plotting.plot_loss_history(HISTORY)
    _render(ax, tmp_path, "losses")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["reconstruction loss", "connectivity loss"]
    np.testing.assert_array_equal(lines[0].get_ydata(), [9.0, 6.0, 5.0])
    np.testing.assert_array_equal(lines[1].get_ydata(), [40.0, 12.0, 4.0])
    assert ax.get_yscale() == "log"
    # a connectivity loss never computed (weight 0, all NaN) is left out; validation is drawn
    history = [dict(r, connectivity_loss=np.nan, validation_loss=r["reconstruction_loss"] + 1)
               for r in HISTORY]
    ax = plotting.plot_loss_history(history)
    assert _legend_texts(ax) == ["reconstruction loss", "validation loss"]


def _ripser_deaths(points):
    """Finite H0 death times of ripser (independent reference), l1 distance, sorted."""
    ripser = pytest.importorskip("ripser")
    diagram = ripser.ripser(points, maxdim=0, metric="cityblock")["dgms"][0]
    return np.sort(diagram[np.isfinite(diagram[:, 1]), 1])


def test_barcode_bars_are_ripser_death_times(rng, tmp_path):
    codes = rng.normal(size=(30, 6))  # 3 branches of width 2
    ax = plotting.plot_barcode(codes, n_branches=3, eta=1.0)
    _render(ax, tmp_path, "barcode")
    assert len(ax.collections) == 3
    for k, bars in enumerate(ax.collections):
        segments = np.array(bars.get_segments())  # (29, 2 points, xy)
        assert segments.shape == (29, 2, 2)
        np.testing.assert_array_equal(segments[:, 0, 0], 0.0)  # born at 0
        np.testing.assert_allclose(segments[:, 1, 0],
                                   _ripser_deaths(codes[:, 2 * k: 2 * k + 2]), rtol=1e-6)
        np.testing.assert_array_equal(segments[:, 0, 1], 29 * k + np.arange(29))  # stacked
    (eta_line,) = ax.get_lines()
    np.testing.assert_array_equal(eta_line.get_xdata(), [1.0, 1.0])
    assert _legend_texts(ax) == ["branch 0", "branch 1", "branch 2", "eta = 1"]
    assert ax.get_xlim()[0] == 0.0


def test_barcode_accepts_float32_tensors(rng):
    torch = pytest.importorskip("torch")
    codes = torch.tensor(rng.normal(size=(12, 4)), dtype=torch.float32, requires_grad=True)
    ax = plotting.plot_barcode(codes, n_branches=1)
    ends = np.array(ax.collections[0].get_segments())[:, 1, 0]
    np.testing.assert_allclose(ends, _ripser_deaths(codes.detach().numpy()), rtol=1e-5)


def test_death_time_histogram_counts(rng, tmp_path):
    codes = rng.normal(size=(40, 8))
    reference = np.concatenate([_ripser_deaths(codes[:, :4]), _ripser_deaths(codes[:, 4:])])
    edges = np.linspace(0.0, reference.max() + 0.5, 13)
    ax = plotting.plot_death_time_histogram(codes, n_branches=2, eta=2.0, bins=edges)
    _render(ax, tmp_path, "histogram")
    expected, _ = np.histogram(reference, bins=edges)
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_array_equal(heights, expected)
    assert sum(heights) == 2 * 39
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [2.0, 2.0])
    assert _legend_texts(ax) == ["78 death times", "eta = 2"]
    assert ax.get_xlabel() == "death time (MST edge length)"


def _kdtree_branch_counts(queries, anchors, radius, n_branches):
    width = anchors.shape[1] // n_branches
    return np.stack([
        KDTree(anchors[:, k * width:(k + 1) * width], metric="manhattan").query_radius(
            queries[:, k * width:(k + 1) * width], radius, count_only=True)
        for k in range(n_branches)
    ], axis=1)


def _median(ax, branch, kind):
    gid = f"median branch {branch} {kind}"
    (line,) = [line for line in ax.get_lines() if line.get_gid() == gid]
    (y,) = set(line.get_ydata())
    return y


def test_ball_counts_boxes_match_kdtree(rng, tmp_path):
    anchors = rng.normal(size=(50, 6))
    X = np.vstack([rng.normal(size=(20, 6)), rng.normal(3.0, 1.0, size=(15, 6))])
    is_inlier = np.arange(35) < 20
    model = BallCountOneClass(n_branches=3, radius=1.5).fit(anchors)
    ax = plotting.plot_ball_counts(model, X, is_inlier)
    _render(ax, tmp_path, "ball_counts")
    reference = _kdtree_branch_counts(X, anchors, 1.5, 3)
    for k in range(3):
        assert _median(ax, k, "inliers") == np.median(reference[is_inlier, k])
        assert _median(ax, k, "outliers") == np.median(reference[~is_inlier, k])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert _legend_texts(ax) == ["inliers (n=20)", "outliers (n=15)"]
    assert ax.get_ylabel() == "anchors within radius 1.5"
    assert len(ax.patches) == 6  # one box per (branch, kind)


def test_ball_counts_through_a_pipeline(rng):
    anchors = rng.normal(size=(30, 4))
    X = np.vstack([anchors[:10] - 10.0, rng.normal(-4.0, 1.0, size=(10, 4))])
    pipe = Pipeline([("shift", FunctionTransformer(lambda X: X + 10.0)),
                     ("oc", BallCountOneClass(n_branches=2))])
    pipe.fit(anchors - 10.0)
    ax = plotting.plot_ball_counts(pipe, X, np.arange(20) < 10)
    reference = _kdtree_branch_counts(X + 10.0, anchors, 2.0, 2)
    assert _median(ax, 1, "inliers") == np.median(reference[:10, 1])


def test_ball_counts_rejects_bad_input(rng):
    model = BallCountOneClass(n_branches=1).fit(rng.normal(size=(5, 2)))
    X = rng.normal(size=(4, 2))
    with pytest.raises(ValueError, match="boolean"):
        plotting.plot_ball_counts(model, X, [1, 1, -1, -1])
    with pytest.raises(ValueError, match="both inliers and outliers"):
        plotting.plot_ball_counts(model, X, np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="Call fit first"):
        plotting.plot_ball_counts(BallCountOneClass(), X, np.arange(4) < 2)
    classwise = ClasswiseBallCount(n_branches=1).fit(rng.normal(size=(6, 2)), [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="ClasswiseBallCount"):
        plotting.plot_ball_counts(classwise, X, np.arange(4) < 2)


def test_roc_curves_match_sklearn(rng, tmp_path):
    is_inlier = np.arange(60) < 25
    good = is_inlier + rng.normal(0.0, 0.6, size=60)
    scores = {"good": good, "weak": rng.random(60) + 0.3 * is_inlier}
    ax = plotting.plot_roc_curves(scores, is_inlier)
    _render(ax, tmp_path, "roc")
    lines = ax.get_lines()
    assert len(lines) == 3  # two methods, then chance
    for line, (name, score) in zip(lines[:2], scores.items(), strict=True):
        fpr, tpr, _ = roc_curve(is_inlier, score)
        np.testing.assert_array_equal(line.get_xdata(), fpr)
        np.testing.assert_array_equal(line.get_ydata(), tpr)
        assert line.get_label() == f"{name} (AUROC {roc_auc_score(is_inlier, score):.3f})"
    np.testing.assert_array_equal(lines[2].get_xdata(), [0, 1])
    assert _legend_texts(ax)[-1] == "chance"


def test_roc_curve_hand_computed_auroc():
    # inliers scored 0.9 and 0.3, outliers 0.5 and 0.1: 3 of the 4 pairs ordered -> 0.75
    ax = plotting.plot_roc_curves({"m": [0.9, 0.5, 0.3, 0.1]}, [True, False, True, False])
    assert _legend_texts(ax)[0] == "m (AUROC 0.750)"


def test_roc_curves_reject_bad_input():
    with pytest.raises(ValueError, match="got the values.*pass pos_label"):
        plotting.plot_roc_curves({"m": [1.0, 0.0, 0.5]}, [0, 1, 2])
    with pytest.raises(ValueError, match="pos_label=3 .* is not among"):
        plotting.plot_roc_curves({"m": [1.0, 0.0, 0.5]}, [0, 1, 2], pos_label=3)
    with pytest.raises(ValueError, match="both inliers and outliers"):
        plotting.plot_roc_curves({"m": [1.0, 0.0]}, [1, 1])
    with pytest.raises(ValueError, match="higher_score must be"):
        plotting.plot_roc_curves({"m": [1.0, 0.0]}, [True, False], higher_score="auto")
    with pytest.raises(ValueError, match="one score per sample"):
        plotting.plot_roc_curves({"m": [1.0, 0.0, 0.5]}, [True, False])
    with pytest.raises(ValueError, match="non-empty dict"):
        plotting.plot_roc_curves([0.1, 0.2], [True, False])


def test_missing_matplotlib_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    # commands that work today: the package name alone is not on an index yet
    with pytest.raises(ImportError, match=r"`pip install matplotlib` \(or `pip install "
                       r"\"\.\[plot\]\"` in a corel-sklearn checkout\)"):
        plotting.plot_roc_curves({"m": [1.0, 0.0]}, [True, False])


def _line_matches_display(line, is_inlier, inlier_score):
    """The drawn curve equals scikit-learn's RocCurveDisplay with inliers positive."""
    from sklearn.metrics import RocCurveDisplay

    display = RocCurveDisplay.from_predictions(is_inlier, inlier_score)
    np.testing.assert_array_equal(line.get_xdata(), display.fpr)
    np.testing.assert_array_equal(line.get_ydata(), display.tpr)
    plt.close(display.figure_)


def test_roc_curves_read_the_label_conventions_roc_curve_display_takes(rng):
    is_inlier = np.arange(40) < 25
    score = is_inlier + rng.normal(0.0, 0.7, size=40)  # higher = more normal
    auroc = roc_auc_score(is_inlier, score)
    assert 0.6 < auroc < 0.99
    readings = {"bool": ([is_inlier], {}), "pyod": ([np.where(is_inlier, 0, 1)], {}),
                "sklearn": ([np.where(is_inlier, 1, -1)], {}),
                "1 = inlier": ([is_inlier.astype(int)], {"pos_label": 1}),
                "classes": ([np.where(is_inlier, "cat", "dog")], {"pos_label": "cat"}),
                "digits": ([np.where(is_inlier, 8, np.arange(40) % 8)], {"pos_label": 8})}
    for name, (args, kwargs) in readings.items():
        ax = plotting.plot_roc_curves({name: score}, *args, **kwargs)
        _line_matches_display(ax.get_lines()[0], is_inlier, score)
        assert _legend_texts(ax)[0] == f"{name} (AUROC {auroc:.3f})"
        plt.close(ax.figure)


def test_roc_curves_never_plot_pyod_scores_inverted_without_a_word(rng):
    pytest.importorskip("pyod")
    from pyod.models.knn import KNN

    X = np.vstack([rng.normal(0.0, 0.5, (40, 3)), rng.uniform(-4.0, 4.0, (10, 3))])
    y = np.r_[np.zeros(40, dtype=int), np.ones(10, dtype=int)]  # PyOD: 1 = anomaly
    detector = KNN().fit(X[:30])
    anomaly = detector.decision_function(X)  # higher = more abnormal
    auroc = roc_auc_score(y, anomaly)
    assert auroc > 0.9
    # PyOD's scores read as the default "higher = more normal": said, not silent
    with pytest.warns(UserWarning, match=r"'KNN' ranks below chance \(AUROC 0\.0.*"
                                         r"higher_score='anomaly'"):
        plotting.plot_roc_curves({"KNN": anomaly}, y)
    plt.close("all")
    # oriented explicitly, or from the detector's type as make_anomaly_scorer does
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kwargs in ({"scores": {"KNN": anomaly}, "higher_score": "anomaly"},
                       {"scores": {"KNN": detector}, "X": X}):
            ax = plotting.plot_roc_curves(y_true=y, **kwargs)
            _line_matches_display(ax.get_lines()[0], y == 0, -anomaly)
            assert _legend_texts(ax)[0] == f"KNN (AUROC {auroc:.3f})"
            plt.close(ax.figure)


def test_roc_curves_refuse_an_estimator_whose_direction_is_unknown(rng):
    from sklearn.linear_model import LogisticRegression

    X = rng.normal(size=(30, 2))
    is_normal = (X[:, 0] > 0).astype(int)
    classifier = LogisticRegression().fit(X, is_normal)
    with pytest.raises(ValueError, match="Cannot tell whether higher scores of "
                                         "LogisticRegression"):
        plotting.plot_roc_curves({"lr": classifier}, is_normal == 1, X=X)
    with pytest.raises(ValueError, match="pass X="):
        plotting.plot_roc_curves({"forest": BallCountOneClass(n_branches=1).fit(X)},
                                 is_normal == 1)


def test_barcode_takes_its_branches_from_the_encoder_or_asks(rng):
    codes = rng.normal(size=(20, 6))
    with pytest.raises(ValueError, match="needs the number of latent branches"):
        plotting.plot_barcode(codes)
    with pytest.raises(ValueError, match="needs the number of latent branches"):
        plotting.plot_death_time_histogram(codes)
    encoder = TopoAutoencoder(n_branches=3, branch_dim=2, eta=1.5)
    ax = plotting.plot_barcode(codes, encoder=encoder)
    assert len(ax.collections) == 3  # one stack of bars per branch
    for k, bars in enumerate(ax.collections):
        ends = np.array(bars.get_segments())[:, 1, 0]
        np.testing.assert_allclose(ends, _ripser_deaths(codes[:, 2 * k: 2 * k + 2]),
                                   rtol=1e-6)
    assert _legend_texts(ax)[-1] == "eta = 1.5"
    ax = plotting.plot_death_time_histogram(codes, encoder=encoder, eta=2.0)
    assert sum(patch.get_height() for patch in ax.patches) == 3 * 19
    assert _legend_texts(ax)[-1] == "eta = 2"
    with pytest.raises(ValueError, match="n_branches=2 but the encoder has n_branches=3"):
        plotting.plot_barcode(codes, n_branches=2, encoder=encoder)
