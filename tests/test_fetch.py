"""The fetchers download through pooch from a real HTTP server on 127.0.0.1.

A threaded ``http.server`` bound to port 0 (the OS picks a free port while the server holds the
socket, so no other process can take it in between) serves small fake files whose SHA-256
sums the tests put in the registry: a good download, a corrupted one, one cut off mid-file,
and a refused connection. After every failure the data home holds nothing.
"""

import hashlib
import http.server
import io
import os
import pickle
import socket
import sys
import tarfile
import threading

import numpy as np
import pytest
import scipy.io

from corel_sklearn.datasets import (
    ADBENCH_DATASETS,
    CIFAR10_CLASSES,
    ODDS_DATASETS,
    _fetch,
    fetch_adbench,
    fetch_cifar10,
    fetch_odds,
    fetch_published_table,
    get_data_home,
)

# ----------------------------------------------------------------------------- the server


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        server.requests.append(self.path)
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in server.cut_off:
            # Half the promised bytes, then the connection closes: an interrupted download.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server():
    """A file server on 127.0.0.1: ``files`` maps URL paths to bytes; ``url`` its base."""
    pytest.importorskip("pooch")  # the tests that download need it; the others run without
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.cut_off = {}, [], set()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def refused_url():
    """A URL whose port is bound but not listening: connecting is refused at once."""
    pytest.importorskip("pooch")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # held for the test, so no other process can take the port
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    monkeypatch.delenv(_fetch.DATA_HOME_ENV, raising=False)
    monkeypatch.delenv(_fetch.DATA_URL_ENV, raising=False)


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _mat_bytes(X, y):
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"X": X, "y": y.reshape(-1, 1)})
    return buf.getvalue()


def _npz_bytes(X, y):
    buf = io.BytesIO()
    np.savez(buf, X=X, y=y)
    return buf.getvalue()


def _register(monkeypatch, dataset, file_name, content):
    """Record ``content``'s sum as the one of ``file_name`` (as the real registry does)."""
    monkeypatch.setitem(_fetch._SOURCES[dataset][2], file_name, _sha256(content))


def _files_under(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names)


@pytest.fixture
def toy_odds(monkeypatch, server, rng):
    """A fake cardio.mat on the server (mirror layout) with its sum registered."""
    X = rng.normal(size=(6, 3))
    y = np.array([0, 0, 1, 0, 1, 0])
    content = _mat_bytes(X, y)
    _register(monkeypatch, "odds", "cardio.mat", content)
    server.files["/odds_pyod/cardio.mat"] = content
    return X, y, content


# ----------------------------------------------------------------------------- success


def test_fetch_odds_downloads_checks_and_reuses(tmp_path, server, toy_odds):
    X, y, content = toy_odds
    home = tmp_path / "home"
    bunch = fetch_odds("cardio", data_home=home, base_url=server.url)
    np.testing.assert_array_equal(bunch.data, X)
    np.testing.assert_array_equal(bunch.target, y)
    path = home / "odds_pyod" / "cardio.mat"
    assert bunch.source == str(path) and path.read_bytes() == content
    assert _files_under(home) == [os.path.join("odds_pyod", "cardio.mat")]
    assert server.requests == ["/odds_pyod/cardio.mat"]
    # the second call reads the data home and asks the server for nothing
    again = fetch_odds("cardio", data_home=home, base_url=server.url)
    np.testing.assert_array_equal(again.data, X)
    assert server.requests == ["/odds_pyod/cardio.mat"]


def test_environment_sets_data_home_and_mirror(tmp_path, monkeypatch, server, toy_odds):
    monkeypatch.setenv(_fetch.DATA_HOME_ENV, str(tmp_path / "env-home"))
    monkeypatch.setenv(_fetch.DATA_URL_ENV, server.url + "/")  # a trailing slash is fine
    bunch = fetch_odds("cardio")
    assert bunch.source == str(tmp_path / "env-home" / "odds_pyod" / "cardio.mat")
    assert server.requests == ["/odds_pyod/cardio.mat"]


def test_source_urls_are_the_recorded_commits(tmp_path, monkeypatch, server, rng):
    # Without a mirror the file comes from the source URL: served here under the same path
    # as on GitHub, to check the URL the fetcher builds.
    content = _npz_bytes(rng.normal(size=(4, 2)), np.array([0, 1, 0, 0]))
    _register(monkeypatch, "adbench", "4_breastw.npz", content)
    folder, template, sums = _fetch._SOURCES["adbench"]
    real_url = template.format("4_breastw.npz")
    assert real_url == ("https://raw.githubusercontent.com/Minqi824/ADBench/"
                        "3dac8221081e190f157d78e93bfa8867f90d0965/adbench/datasets/Classical/"
                        "4_breastw.npz")
    local_path = real_url.removeprefix("https://raw.githubusercontent.com")
    monkeypatch.setitem(_fetch._SOURCES, "adbench",
                        (folder, server.url + local_path.replace("4_breastw.npz", "{}"), sums))
    server.files[local_path] = content
    bunch = fetch_adbench("BreastW", data_home=tmp_path)  # a bare name, any case
    assert bunch.name == "4_breastw" and bunch.target.tolist() == [0, 1, 0, 0]
    assert _fetch._SOURCES["odds"][1].format("cardio.mat") == (
        "https://raw.githubusercontent.com/yzhao062/pyod/"
        "34f7996effac700a5166d882d5e94c6e6078fae3/notebooks/data/cardio.mat")
    assert _fetch._SOURCES["cifar10"][1].format("cifar-10-python.tar.gz") == (
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")


def test_fetch_published_table(tmp_path, monkeypatch, server):
    content = b"Data,IForest\ncardio,0.9\n"
    name, url, _ = _fetch._PUBLISHED["odds"]
    monkeypatch.setitem(_fetch._PUBLISHED, "odds", (name, url, _sha256(content)))
    server.files[f"/baselines/{name}"] = content
    path = fetch_published_table("odds", data_home=tmp_path, base_url=server.url)
    assert path == str(tmp_path / "baselines" / name)
    with open(path, "rb") as f:
        assert f.read() == content


# ----------------------------------------------------------------------------- failures


def test_checksum_mismatch_keeps_nothing(tmp_path, server, toy_odds):
    server.files["/odds_pyod/cardio.mat"] = toy_odds[2][:-1] + b"x"  # one byte changed
    with pytest.raises(OSError, match="does not match its SHA-256 checksum") as info:
        fetch_odds("cardio", data_home=tmp_path, base_url=server.url)
    assert f"{server.url}/odds_pyod/cardio.mat" in str(info.value)
    assert _files_under(tmp_path) == []


def test_interrupted_download_keeps_nothing(tmp_path, server, toy_odds):
    server.cut_off.add("/odds_pyod/cardio.mat")
    with pytest.raises(ConnectionError, match="closed before the file was complete"):
        fetch_odds("cardio", data_home=tmp_path, base_url=server.url)
    assert _files_under(tmp_path) == []
    # the next call starts over and succeeds
    server.cut_off.clear()
    assert fetch_odds("cardio", data_home=tmp_path, base_url=server.url).data.shape == (6, 3)


def test_offline_is_one_clear_error(tmp_path, refused_url, toy_odds):
    with pytest.raises(ConnectionError) as info:
        fetch_odds("cardio", data_home=tmp_path, base_url=refused_url)
    message = str(info.value)
    assert f"Could not download {refused_url}/odds_pyod/cardio.mat" in message
    assert "refused" in message and _fetch.DATA_URL_ENV in message
    assert _files_under(tmp_path) == []


def test_missing_file_on_the_server(tmp_path, server, toy_odds):
    del server.files["/odds_pyod/cardio.mat"]
    with pytest.raises(ConnectionError, match="404"):
        fetch_odds("cardio", data_home=tmp_path, base_url=server.url)
    assert _files_under(tmp_path) == []


def test_download_if_missing_false_names_the_call(tmp_path, server, toy_odds):
    with pytest.raises(FileNotFoundError, match=r"fetch_odds\('cardio'\) downloads it"):
        fetch_odds("cardio", data_home=tmp_path, download_if_missing=False)
    with pytest.raises(FileNotFoundError, match=r"fetch_cifar10\(\) downloads it"):
        fetch_cifar10(data_home=tmp_path, download_if_missing=False)
    assert server.requests == [] and not os.path.exists(tmp_path / "odds_pyod")


def test_without_pooch_an_import_error_names_the_extra(tmp_path, monkeypatch, toy_odds):
    monkeypatch.setitem(sys.modules, "pooch", None)  # import pooch now raises ImportError
    with pytest.raises(ImportError, match=r"corel-sklearn\[data\]"):
        fetch_odds("cardio", data_home=tmp_path)


def test_unknown_names_fail_before_any_download(tmp_path):
    with pytest.raises(ValueError, match="Unknown ODDS set 'cardiac'"):
        fetch_odds("cardiac", data_home=tmp_path)
    with pytest.raises(ValueError, match="Unknown ADBench set"):
        fetch_adbench("99_nothing", data_home=tmp_path)
    with pytest.raises(ValueError, match="9_census .* no recorded checksum"):
        fetch_adbench("census", data_home=tmp_path)
    with pytest.raises(ValueError, match="benchmark must be one of"):
        fetch_published_table("cifar10", data_home=tmp_path)


def test_unwritable_data_home_is_one_clear_error(tmp_path, server, toy_odds):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError, match="Cannot create the data folder"):
        fetch_odds("cardio", data_home=blocker, base_url=server.url)


# ----------------------------------------------------------------------------- CIFAR-10


def _cifar_archive(rng, per_batch=2, extra=()):
    """A tar.gz laid out like cifar-10-python.tar.gz; returns (bytes, train rows, test rows)."""
    buf = io.BytesIO()
    rows = {"train": [], "test": []}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, data):
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
            rows["test" if name == "test_batch" else "train"].append(data)
            add(name, pickle.dumps({b"data": data, b"labels": [3] * per_batch}, protocol=2))
        add("batches.meta", pickle.dumps({b"label_names": [n.encode() for n in CIFAR10_CLASSES]}))
        add("readme.html", b"<html></html>")
        for member, data in extra:
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return buf.getvalue(), np.concatenate(rows["train"]), np.concatenate(rows["test"])


def _serve_cifar(monkeypatch, server, content):
    _register(monkeypatch, "cifar10", "cifar-10-python.tar.gz", content)
    server.files["/cifar10/cifar-10-python.tar.gz"] = content


def test_fetch_cifar10_unpacks_the_batches(tmp_path, monkeypatch, server, rng):
    content, train, test = _cifar_archive(rng)
    _serve_cifar(monkeypatch, server, content)
    bunch = fetch_cifar10(data_home=tmp_path, base_url=server.url)
    np.testing.assert_array_equal(bunch.data, np.concatenate([train, test]) / np.float32(255))
    assert bunch.split.tolist() == ["train"] * 10 + ["test"] * 2
    assert tuple(bunch.target_names) == CIFAR10_CLASSES
    batches = ["batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    # only the seven batch files are kept; the archive is deleted once they are unpacked
    assert _files_under(tmp_path) == sorted(
        os.path.join("cifar10", "cifar-10-batches-py", name) for name in batches)
    # later calls read the unpacked folder, without pooch or the server
    monkeypatch.setitem(sys.modules, "pooch", None)
    assert fetch_cifar10(data_home=tmp_path, subset="test").data.shape == (2, 3072)
    assert server.requests == ["/cifar10/cifar-10-python.tar.gz"]


def test_fetch_cifar10_never_extracts_links_or_other_paths(tmp_path, monkeypatch, server, rng):
    link = tarfile.TarInfo("cifar-10-batches-py/evil_link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    escape = tarfile.TarInfo("../escaped.txt")
    escape.size = 3
    content, _, _ = _cifar_archive(rng, extra=[(link, None), (escape, b"bad")])
    _serve_cifar(monkeypatch, server, content)
    fetch_cifar10(data_home=tmp_path / "home", base_url=server.url)
    assert not (tmp_path / "escaped.txt").exists()
    assert not os.path.lexists(tmp_path / "home" / "cifar10" / "cifar-10-batches-py" /
                               "evil_link")
    assert len(_files_under(tmp_path)) == 7


def test_fetch_cifar10_incomplete_archive_keeps_nothing_unpacked(tmp_path, monkeypatch,
                                                                  server, rng):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    _serve_cifar(monkeypatch, server, buf.getvalue())
    with pytest.raises(OSError, match="lacks .*test_batch"):
        fetch_cifar10(data_home=tmp_path, base_url=server.url)
    # the checked archive stays for inspection; no partial batch folder, no staging folder
    assert _files_under(tmp_path) == [os.path.join("cifar10", "cifar-10-python.tar.gz")]


def test_fetch_cifar10_checksum_mismatch_keeps_nothing(tmp_path, monkeypatch, server, rng):
    content, _, _ = _cifar_archive(rng)
    _serve_cifar(monkeypatch, server, content)
    server.files["/cifar10/cifar-10-python.tar.gz"] = content[:-10]
    with pytest.raises(OSError, match="does not match its SHA-256 checksum"):
        fetch_cifar10(data_home=tmp_path, base_url=server.url)
    assert _files_under(tmp_path) == []


def test_fetched_batches_still_go_through_the_restricted_unpickler(tmp_path, monkeypatch,
                                                                   server, rng):
    class RunsCode:
        def __reduce__(self):
            return (os.system, ("echo never",))

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ["batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
            data = pickle.dumps(RunsCode())
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _serve_cifar(monkeypatch, server, buf.getvalue())
    with pytest.raises(ValueError, match="refused to load the global"):
        fetch_cifar10(data_home=tmp_path, base_url=server.url)


# ----------------------------------------------------------------------------- registry


def test_data_home_resolution(tmp_path, monkeypatch):
    assert get_data_home() == os.path.join(os.path.expanduser("~"), "corel_sklearn_data")
    monkeypatch.setenv(_fetch.DATA_HOME_ENV, str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    assert get_data_home(tmp_path / "arg") == str(tmp_path / "arg")  # the argument wins
    assert get_data_home(dataset="adbench") == str(tmp_path / "env" / "adbench_classical")
    assert not os.path.exists(tmp_path / "env")  # resolving creates nothing
    with pytest.raises(ValueError, match="dataset must be one of"):
        get_data_home(dataset="mnist")


def test_registry_covers_every_set():
    assert set(_fetch._ODDS_SHA256) == set(ODDS_DATASETS)
    assert len(ADBENCH_DATASETS) == 43
    numbers = sorted(int(stem.split("_")[0]) for stem in
                     ADBENCH_DATASETS + _fetch._ADBENCH_UNCHECKED)
    assert numbers == list(range(1, 48))  # ADBench's 47 classical sets, none twice


def test_recorded_sums_match_the_reference_copies(shared_data):
    # The shared copies are byte-identical to the files at the recorded commits.
    def sha256_of(path):
        with open(path, "rb") as f:
            return _sha256(f.read())

    for name, digest in _fetch._ODDS_SHA256.items():
        assert sha256_of(os.path.join(shared_data, "odds_pyod", f"{name}.mat")) == digest, name
    for stem, digest in _fetch._ADBENCH_SHA256.items():
        path = os.path.join(shared_data, "adbench_classical", f"{stem}.npz")
        assert sha256_of(path) == digest, stem
    for name, _, digest in _fetch._PUBLISHED.values():
        assert sha256_of(os.path.join(shared_data, "baselines", name)) == digest, name


# ----------------------------------------------------------------------------- command line


def _odds_set(rng, n=60, n_outliers=8):
    X = rng.normal(size=(n, 4))
    X[:n_outliers] += 6
    y = np.zeros(n, dtype=np.uint8)
    y[:n_outliers] = 1
    return X, y


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """An empty data home, and a working folder with no ../shared/data beside it."""
    home = tmp_path / "home"
    monkeypatch.setenv(_fetch.DATA_HOME_ENV, str(home))
    work = tmp_path / "checkout"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def test_cli_without_data_names_download_and_fetch_call(cli_home, capsys):
    from corel_sklearn.experiments.cli import main

    for argv, fetch_call in ((["odds"], "fetch_odds(name)"),
                             (["adbench"], "fetch_adbench(name)"),
                             (["oneclass", "--dataset", "cifar10", "--no-cache"],
                              "fetch_cifar10()")):
        rc = main([*argv, "--out", "out", "-q"])
        err = capsys.readouterr().err
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
        assert f"`corel-sklearn {argv[0]} --download`" in err and fetch_call in err, err
        assert str(cli_home) in err
    assert not cli_home.exists()  # looking created nothing


def test_cli_download_fetches_into_the_data_home_and_runs(cli_home, monkeypatch, server,
                                                          rng, capsys):
    from corel_sklearn.experiments.cli import main

    content = _mat_bytes(*_odds_set(rng))
    _register(monkeypatch, "odds", "vowels.mat", content)
    server.files["/odds_pyod/vowels.mat"] = content
    table = b"Data,#Samples,# Dimensions,Outlier Perc,IForest\nvowels,60,4,13.3,0.5\n"
    name, url, _ = _fetch._PUBLISHED["odds"]
    monkeypatch.setitem(_fetch._PUBLISHED, "odds", (name, url, _sha256(table)))
    server.files[f"/baselines/{name}"] = table
    monkeypatch.setenv(_fetch.DATA_URL_ENV, server.url)

    argv = ["odds", "--datasets", "vowels", "--trials", "1", "--methods", "IForest",
            "--n-jobs", "1", "--out", "out", "--no-plot", "-q"]
    assert main([*argv, "--download"]) == 0
    assert "pub IForest" in capsys.readouterr().out
    assert _files_under(cli_home) == [os.path.join("baselines", name),
                                      os.path.join("odds_pyod", "vowels.mat")]
    # without --download the data home is found; the server is not asked again
    assert main(argv) == 0
    assert "pub IForest" in capsys.readouterr().out
    assert len(server.requests) == 2
    # --download and --data-path contradict each other
    assert main([*argv, "--download", "--data-path", str(cli_home / "odds_pyod")]) == 2
    assert "not both" in capsys.readouterr().err


def test_cli_prefers_the_data_home_then_the_shared_folder(cli_home, tmp_path, rng):
    from corel_sklearn.experiments import _data

    shared = tmp_path / "shared" / "data" / "odds_pyod"  # ../shared/data from the checkout
    shared.mkdir(parents=True)
    for name in ("wbc", "pima"):
        (shared / f"{name}.mat").write_bytes(_mat_bytes(*_odds_set(rng)))
    expected_shared = os.path.join(os.pardir, "shared", "data", "odds_pyod")
    assert _data.find_data("odds", "odds", ["wbc", "pima"]) == expected_shared
    home = cli_home / "odds_pyod"
    home.mkdir(parents=True)
    (home / "wbc.mat").write_bytes(_mat_bytes(*_odds_set(rng)))
    # the data home wins when it holds every set asked for, and only then
    assert _data.find_data("odds", "odds", ["wbc"]) == str(home)
    assert _data.find_data("odds", "odds", ["wbc", "pima"]) == expected_shared
