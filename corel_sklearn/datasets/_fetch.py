"""Download CIFAR-10, ODDS and ADBench from their own public sources into a local data home.

Every file is fetched by pooch (the ``[data]`` extra) from a fixed URL (a release archive, or
a file at one git commit), checked against the SHA-256 sum recorded here before it is kept,
and written beside its final name then renamed: an interrupted or corrupted download leaves
nothing in the data home. Nothing from a download is run: the tabular files are read by
``scipy.io.loadmat`` and ``numpy.load(allow_pickle=False)``, the CIFAR-10 batches by the
restricted unpickler of :func:`load_cifar10`, and the CIFAR-10 archive is unpacked member by
member, by name, regular files only.
"""

import os
import shutil
import tarfile
import tempfile

from corel_sklearn.datasets._cifar10 import _PICKLE_DIR, _PICKLE_FILES, load_cifar10
from corel_sklearn.datasets._common import check_subset
from corel_sklearn.datasets._tabular import ODDS_DATASETS, load_adbench, load_odds

DATA_HOME_ENV = "COREL_SKLEARN_DATA"
DATA_URL_ENV = "COREL_SKLEARN_DATA_URL"
DEFAULT_DATA_HOME = os.path.join("~", "corel_sklearn_data")

# The commits the checked copies came from (the files are byte-identical to the git blobs).
_PYOD_COMMIT = "34f7996effac700a5166d882d5e94c6e6078fae3"
_ADBENCH_COMMIT = "3dac8221081e190f157d78e93bfa8867f90d0965"
_ADBENCH_RESULTS_COMMIT = "6a9c8b0724c006cb9ea7c98c1acdf3ccebccd8da"
_GITHUB_RAW = "https://raw.githubusercontent.com"

_ODDS_SHA256 = {
    "arrhythmia": "e4d47e499591ae31e5d7f0cd983367092353eac240f48e14c9b36457edb3460d",
    "cardio": "5e568b6a73711012c481fa6cc984ab9c68e9a4fa44d6aeb3b43efa381c3f695b",
    "glass": "2c506e6e1e2ca1e82a905d10a90773151ff812c4bd969c71a12db5b2bb6e7921",
    "ionosphere": "8ac5dfa6f47db4acdfe10615489b7f7dd015d79d5b381ce641e72baca3cfefb0",
    "letter": "f4a229b0e2a6b0c9157ce27fa760bcbac0f948cd690b2f5d51c120e5450f2195",
    "lympho": "031b907ecb50347720b08b38f8139d05635adeca9335a064d89d5569c27a5834",
    "mnist": "9479e221f236684c09f3e11c7ad124725d34ecd301b9450425e8b113368413a6",
    "musk": "50bbf414caceb66cfe6f6b1eb7c1ff7c6eb1e6d87173f7bb597ba55cd3dc5493",
    "optdigits": "30c664cd6f3740a173277a27cd1028d471b06f0835a9902c9712749cec58c1c4",
    "pendigits": "7bc32ac83b3d583443acea8b1342a54aaa59eaedb9996af405322f473f3c22bc",
    "pima": "b6a5be8d548b9293d6958beceb1c77055591714d25d40d957eba87808456468f",
    "satellite": "6feac3112b9c14e1c3e60afc437f2f3d29dc1000119c9f950c628078778d6aa0",
    "satimage-2": "95c37a07cea2cb201f6900d14f521510e10b6b2f0074c06ac46d3157440ec67b",
    "shuttle": "b6e396c92354d5dcf5036901e36dc58e2913f2d1a5e138c35a2bedf9c69db899",
    "vertebral": "84b50b055f118f54b5c976650ccd284ab7c1adee822f8b3eb517c7e2c890d15e",
    "vowels": "51d5397bad1ceeda22b7cd44fd58125c5d603c9c2edb53aa59933330e259ac7b",
    "wbc": "afe6b26953cc196b9a480318c903e0edef22529c2f61bd02082438c6e70630a7",
}
_ADBENCH_SHA256 = {
    "1_ALOI": "792d0b5bd1147bfc9574a1974f157b39fbd4cbed8ecd04cf983fd554498ed477",
    "2_annthyroid": "e738f7c58a8740d2c4aac4c71ff49ce5e1d1aa16f44178135fc9c09df05fad1b",
    "4_breastw": "4f37ce07dbc25ddad8178fdc6d664ab46d2d0000ee28c2787c3c7ff3c03ef9f6",
    "5_campaign": "74dd4d0072d6c6f1aabab63bc102f9633454f32bb936fa9bcfbd38f9f2386bcd",
    "6_cardio": "bc5009bde6930b4d298b594f31b34485a9a17210cff0e8fb00a8c3068b885a2d",
    "7_Cardiotocography": "5ae84910430f05923e11b6f537243263977c9136949dabd891e3570aeec51e29",
    "8_celeba": "1cadfdea14cd8d240eca715a70c09c88af8621d086a7478c63f602d97adef0b5",
    "10_cover": "945a097c3542ae81a551bf1c06dcad78a755d94f84fcaf1d60687e42d1a656df",
    "11_donors": "5824ec854465f2763b4bfe3da1ae9f25ed5433b5c6e265d42e37da4f82a58679",
    "12_fault": "ec27301f9a4cf7c5d8b22c360cf37ddb043b7fb062465723dfd8b34e2771e5dd",
    "14_glass": "aa7a8db1d475ba01a10488af454bc15220a3d5951b010b03b7020567d8152cdc",
    "15_Hepatitis": "4a87a2f7d8013e5bfde63294fae61ec7a612322de72f338a7f9491749025ad98",
    "16_http": "9d98710091551587f4740cfc851a6b064fff6319a337c2dc77ee6da4bcc2e02c",
    "17_InternetAds": "bdd8ad5cf5bf2cb96cba53dde30d522d0f6a279083a8e2bc7efbac5981b04385",
    "18_Ionosphere": "bca46cb0cfd1bf9ddef6cde5ad2215d54fb0189508d0d4c4eb98e788cad69001",
    "19_landsat": "ba17e2158c07469597b89db49d3982c874c6b713ff6670721ddc88969da77987",
    "20_letter": "f986d3da80cf1fa2aea83a5ebe73b7d4800e0d4c01fdd1ae074b58d20f10d039",
    "21_Lymphography": "dad977b04f4ea65b78ccd0e9f76b45175bad605165b37e63f3cc177845e67037",
    "22_magic.gamma": "0be375984d7af9ea7a63b12206c240840d8b7daa3607021c5fb8756407dd86f1",
    "23_mammography": "a0308ac9712d78321073b1c2dc98dc37665c0f35c1cc33019416fe8f8d7de7ea",
    "24_mnist": "be7706272325fdd3592c1be555ae1a82f916a2f8545f4f8cbaa548ab102cc44c",
    "25_musk": "2ed3f4392197b76a1e59116ff880c7720a4b026cf4842073a53b56fdea265017",
    "26_optdigits": "60de17a375a278ba220a7849727d998aa02b5e2f9fd17732a004bba28de4656e",
    "27_PageBlocks": "10a9b4d5bb5d3b9083caab4c4062f665610eada703c3d927bf7c34b1f2d0d223",
    "28_pendigits": "c4936b89dcdad59d303020e492f763a0f54170080d787c77497609acbb9c2d79",
    "29_Pima": "215454bb263a2f040945c9ea7bd7f06f1e89a61a3143bdb6f196e3887e801a7d",
    "30_satellite": "1f048f5686f1b8c16a227fdfa3c81a62cd9a92715714a6b24c69b1c5ad96b46e",
    "31_satimage-2": "1b056e357f801b8b20c3f380a30224a3c4088d7ed764ec5a24828dc9b1918d6f",
    "32_shuttle": "26900b0f6be45d9ddb7a402c9b2f956ceda42d23a8ca4cf4406b8bc1352823d1",
    "33_skin": "d02aa01ffc1b6bf2b8b1ac250c90e8a8eacd0cefc962940ed5cc4bf5deac9c95",
    "34_smtp": "d2569fc9bc12115419e3f5b37d19921e10e6c26e5ad1e61064cfb0fbc402dfdd",
    "35_SpamBase": "d0c46c7928e43f6496bcd06e09de0b70f6bc8143792dfa0a43f450263d254e9b",
    "37_Stamps": "99fe739447284f613fa54bf2dccdb51c5120175ce6260adec6dad77576c42509",
    "38_thyroid": "8de161b3f235b7647bb0b39a836d983ff61d67bf234edac461da2d71e889cb87",
    "39_vertebral": "0816286f92b96fe6867664a41a031ac7228dcfbf1a5feefe50ca3883b2e9073d",
    "40_vowels": "4bfc4244d1c882773bbbc50d4a5db5e52276e53506e46b2d45e02d074cfcb1b6",
    "41_Waveform": "6c9d867337ad1a2f8372c1d27f4c032f0401237e2041b7c45f00de8d319ff30f",
    "42_WBC": "650f9dcb129248f67a291be0974f533ef259fcbde50fce5c8ad2a1cb2652d03b",
    "43_WDBC": "78d4606a1ab516f5b60b00c196497f3bbd6bd5e4548fd04cf5f2475209b34b85",
    "44_Wilt": "c70b72aa611ec87b20efb400943ef3ce4f8bf7aa58fcef825fbd28cc5cee3cc9",
    "45_wine": "d5ad8965d92cc57122fe1e6572bb301adbaf795b3e166d187ae00a704d8f6e20",
    "46_WPBC": "68a6d67242643855713bcdad07d89ecc472bd00000dccc17ba87916eb2693d19",
    "47_yeast": "bbb15c873d78a4f6a589f46d0f75814595e2282d2ae7ce7779c750f276c3770d",
}
# ADBench's four classical sets over 4 MiB; their sums were never recorded here.
_ADBENCH_UNCHECKED = ("3_backdoor", "9_census", "13_fraud", "36_speech")
ADBENCH_DATASETS = tuple(_ADBENCH_SHA256)

# dataset -> (data home sub-folder, source URL of a file name, {file name: sha256})
_SOURCES = {
    "cifar10": (
        "cifar10",
        "https://www.cs.toronto.edu/~kriz/{}",
        # Published by the CIFAR-10 page as md5 c58f30108f718f92721af3b95e74349a; this SHA-256
        # of the same 170,498,071-byte file is the one Keras and TensorFlow Datasets check.
        {"cifar-10-python.tar.gz":
         "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"},
    ),
    "odds": (
        "odds_pyod",
        f"{_GITHUB_RAW}/yzhao062/pyod/{_PYOD_COMMIT}/notebooks/data/{{}}",
        {f"{name}.mat": digest for name, digest in _ODDS_SHA256.items()},
    ),
    "adbench": (
        "adbench_classical",
        f"{_GITHUB_RAW}/Minqi824/ADBench/{_ADBENCH_COMMIT}/adbench/datasets/Classical/{{}}",
        {f"{name}.npz": digest for name, digest in _ADBENCH_SHA256.items()},
    ),
}
# Published AUROC tables: benchmark -> (local file name, source URL, sha256), kept in the
# data home's "baselines" folder.
_PUBLISHED = {
    "odds": (
        "pyod_odds_roc_10trials_2019.csv",
        f"{_GITHUB_RAW}/yzhao062/pyod/{_PYOD_COMMIT}/docs/tables/roc.csv",
        "83d22bd9f3271c05d0807c288abfcb9d78bc9a59162dba5efac99f0dd2bebf8b",
    ),
    "adbench": (
        "adbench_prelim_AUCROC_unsup_commit6a9c8b0_2022-06.csv",
        f"{_GITHUB_RAW}/Minqi824/ADBench/{_ADBENCH_RESULTS_COMMIT}/result/"
        "AUCROC_DB_test_Tabular_None_None_unsupervise.csv",
        "ce1587c7a9139ecf8d7569d20c40416cdeb23442289741729f15ace3c8bd0482",
    ),
}
_PUBLISHED_FOLDER = "baselines"
_CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
_CIFAR_BATCHES = ("batches.meta", *_PICKLE_FILES["train"], *_PICKLE_FILES["test"])


def get_data_home(data_home=None, *, dataset=None):
    """The folder where the fetchers keep downloaded data (not created here).

    ``data_home`` if given, else the environment variable ``COREL_SKLEARN_DATA``, else
    ``~/corel_sklearn_data``; ``~`` is expanded and the path made absolute. The folder is
    created by the first download.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The data home; None reads ``COREL_SKLEARN_DATA``.
    dataset : {"cifar10", "odds", "adbench", "published"}, default=None
        Return the dataset's sub-folder instead: ``cifar10`` (holding
        ``cifar-10-batches-py/``), ``odds_pyod`` (``<name>.mat``), ``adbench_classical``
        (``<number>_<name>.npz``) or ``baselines`` (the published AUROC tables). These are the
        folders that :func:`~corel_sklearn.experiments.run_odds_benchmark`,
        :func:`~corel_sklearn.experiments.run_adbench_benchmark` and :func:`load_cifar10` read.

    Returns
    -------
    path : str

    Examples
    --------
    >>> import os
    >>> from corel_sklearn.datasets import get_data_home
    >>> get_data_home("/data/corel", dataset="odds") == os.path.abspath("/data/corel/odds_pyod")
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or DEFAULT_DATA_HOME
    home = os.path.abspath(os.path.expanduser(os.fspath(data_home)))
    if dataset is None:
        return home
    folders = {key: source[0] for key, source in _SOURCES.items()}
    folders["published"] = _PUBLISHED_FOLDER
    if dataset not in folders:
        raise ValueError(f"dataset must be one of {sorted(folders)} or None, got {dataset!r}.")
    return os.path.join(home, folders[dataset])


def fetch_odds(name, *, data_home=None, download_if_missing=True, base_url=None):
    """One ODDS set, downloaded from pyod's repository into the data home on first use.

    The file ``<name>.mat`` comes from ``notebooks/data/`` of pyod at commit ``34f7996e``
    (the ODDS ``.mat`` files pyod's benchmark uses), is checked against its SHA-256 sum and
    kept as ``<data home>/odds_pyod/<name>.mat``; later calls read it from there.

    Parameters
    ----------
    name : str
        One of ``ODDS_DATASETS`` ("cardio", "satimage-2", ...).
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        False raises ``FileNotFoundError`` instead of downloading a missing file.
    base_url : str, default=None
        A mirror to download from instead of the source: the file is fetched from
        ``<base_url>/odds_pyod/<name>.mat`` and checked against the same sum. None reads the
        environment variable ``COREL_SKLEARN_DATA_URL`` (unset: the source).

    Returns
    -------
    bunch : :class:`~sklearn.utils.Bunch`
        As :func:`load_odds`: ``data``, ``target`` (1 = anomaly), ``name``, ``source``.

    Raises
    ------
    ImportError
        If a download is needed and pooch (the ``[data]`` extra) is not installed.
    FileNotFoundError
        If the file is missing and ``download_if_missing=False``.
    OSError
        If the download fails (no connection, interrupted, or content that does not match
        its checksum); nothing is left in the data home.

    Examples
    --------
    >>> from corel_sklearn.datasets import fetch_odds
    >>> cardio = fetch_odds("cardio")      # doctest: +SKIP
    >>> cardio.data.shape, cardio.target.sum()      # doctest: +SKIP
    ((1831, 21), 176)
    """
    if name not in ODDS_DATASETS:
        raise ValueError(f"Unknown ODDS set {name!r}; choose one of {list(ODDS_DATASETS)}.")
    path = _fetch_file("odds", f"{name}.mat", data_home, download_if_missing, base_url,
                       f"fetch_odds({name!r})")
    return load_odds(path)


def fetch_adbench(name, *, data_home=None, download_if_missing=True, base_url=None):
    """One of ADBench's classical sets, downloaded from ADBench's repository on first use.

    The file ``<number>_<name>.npz`` comes from ``adbench/datasets/Classical/`` of ADBench at
    commit ``3dac8221``, is checked against its SHA-256 sum and kept as
    ``<data home>/adbench_classical/<number>_<name>.npz``. The 43 sets of
    ``ADBENCH_DATASETS`` are offered; ADBench's four sets over 4 MiB (3_backdoor,
    9_census, 13_fraud, 36_speech) have no recorded sum and are not.

    Parameters
    ----------
    name : str
        A file stem ("4_breastw") or a bare name ("breastw", any case).
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        False raises ``FileNotFoundError`` instead of downloading a missing file.
    base_url : str, default=None
        A mirror: the file is fetched from ``<base_url>/adbench_classical/<stem>.npz``.
        None reads ``COREL_SKLEARN_DATA_URL`` (unset: the source).

    Returns
    -------
    bunch : :class:`~sklearn.utils.Bunch`
        As :func:`load_adbench`: ``data``, ``target`` (1 = anomaly), ``name``, ``source``.

    Raises
    ------
    ImportError, FileNotFoundError, OSError
        As :func:`fetch_odds`.

    Examples
    --------
    >>> from corel_sklearn.datasets import fetch_adbench
    >>> breastw = fetch_adbench("breastw")      # doctest: +SKIP
    >>> breastw.name, breastw.data.shape      # doctest: +SKIP
    ('4_breastw', (683, 9))
    """
    stem = adbench_stem(name)
    path = _fetch_file("adbench", f"{stem}.npz", data_home, download_if_missing, base_url,
                       f"fetch_adbench({stem!r})")
    return load_adbench(path)


def fetch_cifar10(*, subset="all", max_per_class=None, data_home=None,
                  download_if_missing=True, base_url=None):
    """CIFAR-10, downloaded from its authors' page into the data home on first use.

    The python release ``cifar-10-python.tar.gz`` (163 MiB) is downloaded from
    https://www.cs.toronto.edu/~kriz/, checked against its SHA-256 sum, and its seven batch
    files are unpacked into ``<data home>/cifar10/cifar-10-batches-py/`` (into a temporary
    folder first, renamed when complete; the archive is then deleted). The batches are pickle
    files, read by :func:`load_cifar10`'s restricted unpickler, which refuses anything but
    the arrays and lists they hold.

    Parameters
    ----------
    subset : {"all", "train", "test"}, default="all"
        As :func:`load_cifar10`.
    max_per_class : int, default=None
        As :func:`load_cifar10`.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        False raises ``FileNotFoundError`` instead of downloading.
    base_url : str, default=None
        A mirror: the archive is fetched from ``<base_url>/cifar10/cifar-10-python.tar.gz``.
        None reads ``COREL_SKLEARN_DATA_URL`` (unset: the source).

    Returns
    -------
    bunch : :class:`~sklearn.utils.Bunch`
        As :func:`load_cifar10` (original pixels, rows in the original order).

    Raises
    ------
    ImportError, FileNotFoundError, OSError
        As :func:`fetch_odds`; also an ``OSError`` if the archive lacks a batch file.

    Examples
    --------
    >>> from corel_sklearn.datasets import fetch_cifar10
    >>> cifar = fetch_cifar10()      # doctest: +SKIP
    >>> cifar.data.shape, cifar.image_shape      # doctest: +SKIP
    ((60000, 3072), (3, 32, 32))
    """
    check_subset(subset)
    folder = get_data_home(data_home, dataset="cifar10")
    extracted = os.path.join(folder, _PICKLE_DIR)
    if not _has_cifar_batches(extracted):
        archive = _fetch_file("cifar10", _CIFAR_ARCHIVE, data_home, download_if_missing,
                              base_url, "fetch_cifar10()", missing=extracted)
        _extract_cifar_batches(archive, folder)
        os.remove(archive)
    return load_cifar10(extracted, subset=subset, max_per_class=max_per_class)


def fetch_published_table(benchmark, *, data_home=None, download_if_missing=True,
                          base_url=None):
    """The path of a published AUROC table, downloaded into the data home on first use.

    ``"odds"``: pyod's ``docs/tables/roc.csv`` at commit ``34f7996e`` (10 trials, 2019),
    kept as ``baselines/pyod_odds_roc_10trials_2019.csv``. ``"adbench"``: ADBench's
    preliminary unsupervised AUCROC table at commit ``6a9c8b0`` (June 2022), kept as
    ``baselines/adbench_prelim_AUCROC_unsup_commit6a9c8b0_2022-06.csv``. These are the
    ``published_csv`` of the benchmark runners and the command line's ``--published``.

    Parameters
    ----------
    benchmark : {"odds", "adbench"}
    data_home, download_if_missing, base_url
        As :func:`fetch_odds` (mirror path ``<base_url>/baselines/<file name>``).

    Returns
    -------
    path : str

    Examples
    --------
    >>> from corel_sklearn.datasets import fetch_published_table
    >>> fetch_published_table("odds")      # doctest: +SKIP
    '/home/me/corel_sklearn_data/baselines/pyod_odds_roc_10trials_2019.csv'
    """
    if benchmark not in _PUBLISHED:
        raise ValueError(f"benchmark must be one of {sorted(_PUBLISHED)}, got {benchmark!r}.")
    return _fetch_file("published", _PUBLISHED[benchmark][0], data_home, download_if_missing,
                       base_url, f"fetch_published_table({benchmark!r})")


def adbench_stem(name):
    """The file stem of an ADBench set given as a stem or a bare name (any case)."""
    by_name = {}
    for stem in ADBENCH_DATASETS + _ADBENCH_UNCHECKED:
        by_name[stem.casefold()] = by_name[stem.split("_", 1)[1].casefold()] = stem
    stem = by_name.get(str(name).casefold())
    if stem is None:
        raise ValueError(
            f"Unknown ADBench set {name!r}; choose one of {list(ADBENCH_DATASETS)} "
            "(a stem or the name after the number, any case)."
        )
    if stem in _ADBENCH_UNCHECKED:
        raise ValueError(
            f"ADBench's {stem} (over 4 MiB) has no recorded checksum and is not fetched; "
            f"download {_SOURCES['adbench'][1].format(stem + '.npz')} yourself and read it "
            "with load_adbench."
        )
    return stem


def _source(dataset, file_name):
    """(data home sub-folder, source URL, sha256) of one file."""
    if dataset == "published":
        (name, url, digest), = [v for v in _PUBLISHED.values() if v[0] == file_name]
        return _PUBLISHED_FOLDER, url, digest
    folder, url, digests = _SOURCES[dataset]
    return folder, url.format(file_name), digests[file_name]


def _fetch_file(dataset, file_name, data_home, download_if_missing, base_url, call,
                missing=None):
    """Path of ``file_name`` in the data home, downloaded and checked if it is not there."""
    folder_name, url, digest = _source(dataset, file_name)
    folder = os.path.join(get_data_home(data_home), folder_name)
    path = os.path.join(folder, file_name)
    if os.path.isfile(path):
        return path
    if not download_if_missing:
        raise FileNotFoundError(
            f"{missing or path} not found and download_if_missing=False; {call} downloads it "
            f"(into {get_data_home(data_home)}, set by data_home= or ${DATA_HOME_ENV})."
        )
    if base_url is None:
        base_url = os.environ.get(DATA_URL_ENV) or None
    if base_url is not None:
        url = f"{str(base_url).rstrip('/')}/{folder_name}/{file_name}"
    pooch = _import_pooch()
    import requests  # a dependency of pooch

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OSError(
            f"Cannot create the data folder {folder!r} ({exc.strerror or exc}); choose a "
            f"writable data home with data_home= or ${DATA_HOME_ENV}."
        ) from exc
    big = file_name == _CIFAR_ARCHIVE
    try:
        # pooch streams into a temporary file in `folder`, checks the sum, then renames it to
        # `path`; on any failure it deletes the temporary file.
        pooch.retrieve(url, known_hash=f"sha256:{digest}", fname=file_name, path=folder,
                       progressbar=big)
    except ValueError as exc:  # pooch: the content does not match the sum
        raise OSError(
            f"The file downloaded from {url} does not match its SHA-256 checksum "
            f"(expected {digest}); it was deleted and nothing was kept in {folder}. "
            f"{_retry_hint()}"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise ConnectionError(
            f"Could not download {url}: {_reason(exc, requests)}. Nothing was kept in "
            f"{folder}. {_retry_hint()}"
        ) from exc
    return path


def _reason(exc, requests):
    """What went wrong with a download, in words."""
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection closed before the file was complete"
    text = " ".join(str(exc).split())
    if isinstance(exc, requests.exceptions.ConnectionError) and "refused" in text.lower():
        return f"the connection was refused ({text})"
    return f"{type(exc).__name__}: {text}"


def _retry_hint():
    return (
        "Check the connection and call again (a new call downloads the file from the start), "
        f"or set ${DATA_URL_ENV} (or base_url=) to a mirror that holds the same files."
    )


def _import_pooch():
    try:
        import pooch
    except ImportError as exc:
        raise ImportError(
            "Downloading data needs pooch, in the corel-sklearn[data] extra: pip install "
            "\".[data]\" in a corel-sklearn checkout (or pip install pooch)."
        ) from exc
    return pooch


def _has_cifar_batches(folder):
    return all(os.path.isfile(os.path.join(folder, name)) for name in _CIFAR_BATCHES)


def _extract_cifar_batches(archive, folder):
    """Unpack the batch files of the CIFAR-10 archive into ``folder/cifar-10-batches-py``.

    Only the members named ``cifar-10-batches-py/<batch>`` that are regular files are read
    (no links, no other paths); they are written into a temporary folder that is renamed
    into place once all seven are there.
    """
    wanted = {f"{_PICKLE_DIR}/{name}": name for name in _CIFAR_BATCHES}
    staging = tempfile.mkdtemp(dir=folder, prefix=".extracting-")
    try:
        target = os.path.join(staging, _PICKLE_DIR)
        os.mkdir(target)
        found = set()
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    name = wanted.get(member.name)
                    if name is None or not member.isreg():
                        continue
                    with tar.extractfile(member) as src, \
                            open(os.path.join(target, name), "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    found.add(name)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise OSError(f"Could not unpack {archive!r}: {exc}; delete it and fetch again.") \
                from exc
        missing = sorted(set(_CIFAR_BATCHES) - found)
        if missing:
            raise OSError(
                f"{archive!r} lacks {[f'{_PICKLE_DIR}/{m}' for m in missing]}; it is not the "
                "CIFAR-10 python release. Delete it and fetch again."
            )
        final = os.path.join(folder, _PICKLE_DIR)
        try:
            os.rename(target, final)
        except OSError:
            if not _has_cifar_batches(final):  # not another process that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
