"""Load MovieLens into one normalised in-memory form, :class:`InteractionData`.

Accepted inputs (:func:`load_dataset`):

* a dataset name from :data:`divrec_rl.data.fetch.DATASET_NAMES` -- fetched into the cache
  if needed (checksums verified), then read as RecBole atomic files;
* a directory in one of three layouts, detected from the file names:

  - GroupLens ML-100k: ``u.data`` (tab-separated ``user item rating timestamp``),
    ``u.item`` (``|``-separated, latin-1: id, title, release date, video release date, IMDb
    URL, 19 genre flags), ``u.user`` (``|``: id, age, gender, occupation, zip);
    an optional ``u.genre`` overrides the genre names of the 19 flags;
  - GroupLens ML-1M: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``),
    ``movies.dat`` (``MovieID::Title::Genre|Genre``), ``users.dat``
    (``UserID::Gender::Age::Occupation::Zip``), all ``::``-separated latin-1; occupation
    codes are mapped to names (:data:`ML1M_OCCUPATIONS`); age stays the ML-1M age code
    (1 = under 18, 18 = 18-24, 25, 35, 45, 50, 56 = 56+, i.e. the bracket's lower bound);
  - RecBole atomic files ``<name>.inter``, ``<name>.item``, ``<name>.user``: tab-separated,
    UTF-8 (latin-1 fallback), first line a typed header such as ``user_id:token``.
    Fields used: ``.inter`` user_id, item_id, rating, timestamp; ``.item`` item_id, a
    title field (``movie_title`` or ``title``), optionally a year field (``release_year`` or
    ``year``), a genre field (``class``, ``genre`` or ``genres``; space-separated);
    ``.user`` user_id, age, gender, occupation (integer codes 0-20 are mapped like ML-1M).

Normalisation (same for every layout):

* items are numbered ``0..M-1`` in the order of the item file, users ``0..U-1`` in the order
  of the user file (for MovieLens both files are sorted by raw id, so ids agree across
  layouts); the original ids are kept as strings in ``raw_item_id`` / ``raw_user_id``.
  Items or users without ratings are kept (the catalogue is the item file);
* a trailing ``(YYYY)`` is stripped from titles and becomes ``year`` when the layout has no
  valid year field (``year`` is ``<NA>`` when unknown);
* ``text = f"{title} ({year}). Genres: {', '.join(genres)}"`` (``({year})`` omitted when
  unknown, ``Genres: ...`` omitted when the item has none);
* ratings are ``float32``, timestamps ``int64`` seconds, sorted by
  ``(user_id, timestamp, item_id)``.

Errors are :class:`~divrec_rl.data.fetch.DataError`: a missing file names the file and the
accepted layouts; a malformed row names the file and its 1-based line number.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from divrec_rl.data.fetch import DATASETS, DataError, fetch_dataset, resolve_name
from divrec_rl.data.interactions import InteractionData
from divrec_rl.data.tables import (
    Table,
    lookup,
    number_column,
    read_table,
    string_column,
    unique_ids,
)

__all__ = [
    "LAYOUTS",
    "ML1M_OCCUPATIONS",
    "ML100K_GENRES",
    "InteractionData",
    "detect_layout",
    "load_dataset",
]

#: Genre names of the 19 flags of ML-100k ``u.item`` (the order of ``u.genre``).
ML100K_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

#: ML-1M occupation codes (``users.dat``), as listed in the ML-1M README.
ML1M_OCCUPATIONS: dict[int, str] = {
    0: "other",  # README: "other" or not specified
    1: "academic/educator",
    2: "artist",
    3: "clerical/admin",
    4: "college/grad student",
    5: "customer service",
    6: "doctor/health care",
    7: "executive/managerial",
    8: "farmer",
    9: "homemaker",
    10: "K-12 student",
    11: "lawyer",
    12: "programmer",
    13: "retired",
    14: "sales/marketing",
    15: "scientist",
    16: "self-employed",
    17: "technician/engineer",
    18: "tradesman/craftsman",
    19: "unemployed",
    20: "writer",
}

#: Directory layouts accepted by :func:`load_dataset`: layout -> (ratings, items, users) files.
LAYOUTS: dict[str, tuple[str, str, str]] = {
    "ml-100k": ("u.data", "u.item", "u.user"),
    "ml-1m": ("ratings.dat", "movies.dat", "users.dat"),
    "atomic": ("<name>.inter", "<name>.item", "<name>.user"),
}

_LAYOUT_HELP = (
    "accepted layouts: GroupLens ML-100k (u.data, u.item, u.user), "
    "GroupLens ML-1M (ratings.dat, movies.dat, users.dat), "
    "RecBole atomic files (<name>.inter, <name>.item, <name>.user)"
)

_TRAILING_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
_MIN_YEAR, _MAX_YEAR = 1800, 2100


# --------------------------------------------------------------------------------------
# shared normalisation


def _title_year(titles: pd.Series, years: pd.Series | None) -> tuple[list[str], pd.array]:
    """Split ``"Title (YYYY)"``; use the explicit year field when it is a valid year."""
    titles = titles.str.strip().replace({"unkonwn": "unknown"})  # typo in RecBole ml-100k
    m = titles.str.extract(_TRAILING_YEAR)
    has = m["title"].notna()
    clean = titles.where(~has, m["title"].str.strip())
    clean = clean.where(clean != "", titles)
    year = pd.to_numeric(m["year"], errors="coerce")
    if years is not None:
        explicit = pd.to_numeric(years.str.strip(), errors="coerce")
        explicit = explicit.where(
            (explicit >= _MIN_YEAR) & (explicit <= _MAX_YEAR) & (explicit == explicit.round())
        )
        year = explicit.fillna(year)
    year = year.where((year >= _MIN_YEAR) & (year <= _MAX_YEAR))
    return clean.tolist(), pd.array(year.round(), dtype="Int64")


def _build(
    name: str,
    layout: str,
    raw_item_ids: pd.Index,
    titles: list[str],
    years: pd.array,
    genres: list[list[str]],
    raw_user_ids: pd.Index,
    ages: np.ndarray,
    genders: pd.Series,
    occupations: list[str],
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    rating: np.ndarray,
    timestamp: np.ndarray,
) -> InteractionData:
    texts = []
    for title, year, gs in zip(titles, years, genres, strict=True):
        head = title if year is pd.NA else f"{title} ({year})"
        texts.append(f"{head}. Genres: {', '.join(gs)}" if gs else f"{head}.")
    items = pd.DataFrame(
        {
            "item_id": np.arange(len(raw_item_ids), dtype=np.int64),
            "raw_item_id": pd.Series(list(map(str, raw_item_ids)), dtype=object),
            "title": pd.Series(titles, dtype=object),
            "year": years,
            "genres": pd.Series(genres, dtype=object),
            "text": pd.Series(texts, dtype=object),
        }
    )
    users = pd.DataFrame(
        {
            "user_id": np.arange(len(raw_user_ids), dtype=np.int64),
            "raw_user_id": pd.Series(list(map(str, raw_user_ids)), dtype=object),
            "age": ages.astype(np.int64),
            "gender": pd.Series(genders.tolist(), dtype=object),
            "occupation": pd.Series(occupations, dtype=object),
        }
    )
    order = np.lexsort((item_idx, timestamp, user_idx))
    ratings = pd.DataFrame(
        {
            "user_id": user_idx[order],
            "item_id": item_idx[order],
            "rating": rating[order].astype(np.float32),
            "timestamp": timestamp[order].astype(np.int64),
        }
    )
    all_genres = sorted({g for gs in genres for g in gs})
    return InteractionData(
        name=name, items=items, users=users, ratings=ratings, genres=all_genres, layout=layout
    )


def _genders(t: Table, col: object) -> pd.Series:
    g = t.df[col].astype(str).str.strip().str.upper()
    bad = ~g.isin(["M", "F"]).to_numpy()
    if bad.any():
        t.fail(bad, "gender must be 'M' or 'F', got", col)
    return g


def _occupations(t: Table, col: object, codes: bool | None) -> list[str]:
    """Occupation names; ``codes=None`` maps ML-1M integer codes iff every value is one."""
    occ = t.df[col].astype(str).str.strip()
    num = pd.to_numeric(occ, errors="coerce")
    is_code = num.notna() & num.isin(list(ML1M_OCCUPATIONS))
    if codes is None:
        codes = bool(len(occ)) and bool(is_code.all())
    if codes:
        if not is_code.all():
            t.fail(~is_code.to_numpy(), "occupation code must be an integer 0-20, got", col)
        return [ML1M_OCCUPATIONS[int(v)] for v in num]
    empty = (occ == "").to_numpy()
    if empty.any():
        t.fail(empty, "empty occupation")
    return occ.tolist()


def _ratings_arrays(
    t: Table, ucol: object, icol: object, rcol: object, tcol: object,
    users: pd.Index, items: pd.Index, user_file: Path, item_file: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    u = lookup(t, users, ucol, "user id", user_file)
    i = lookup(t, items, icol, "item id", item_file)
    r = number_column(t, rcol, "rating", integral=False)
    outside = (r < RATING_RANGE[0]) | (r > RATING_RANGE[1])
    if outside.any():  # the user model's satisfaction target is (r − 1)/4, in [0, 1]
        t.fail(outside, "rating must be in [1, 5] (MovieLens stars), got", rcol)
    ts = number_column(t, tcol, "timestamp", integral=True)
    return u, i, r, ts.astype(np.int64)


#: The star ratings of MovieLens (both sets), lowest and highest.
RATING_RANGE = (1.0, 5.0)


# --------------------------------------------------------------------------------------
# layouts


def _load_ml100k(directory: Path, name: str) -> InteractionData:
    d = directory
    genre_names = list(ML100K_GENRES)
    if (d / "u.genre").is_file():
        gt = read_table(d / "u.genre", "|", 2, "latin-1")
        idx = number_column(gt, 1, "genre index", integral=True).astype(int)
        names = string_column(gt, 0, "genre name")
        genre_names = [n for _, n in sorted(zip(idx, names, strict=True))]
    n_flags = len(genre_names)
    it = read_table(d / "u.item", "|", 5 + n_flags, "latin-1")
    item_ids = unique_ids(it, string_column(it, 0, "item id"), "item id")
    flags = np.empty((len(it.df), n_flags), dtype=bool)
    for j in range(n_flags):
        raw = it.df[5 + j].astype(str).str.strip()
        bad = ~raw.isin(["0", "1"]).to_numpy()
        if bad.any():
            it.fail(bad, f"genre flag {genre_names[j]!r} must be 0 or 1, got", 5 + j)
        flags[:, j] = (raw == "1").to_numpy()
    genres = [[genre_names[j] for j in np.flatnonzero(row)] for row in flags]
    release = it.df[2].astype(str).str.strip().str[-4:]
    titles, years = _title_year(string_column(it, 1, "title"), release)

    ut = read_table(d / "u.user", "|", 5, "latin-1")
    user_ids = unique_ids(ut, string_column(ut, 0, "user id"), "user id")
    ages = number_column(ut, 1, "age", integral=True)
    genders = _genders(ut, 2)
    occupations = _occupations(ut, 3, codes=False)

    rt = read_table(d / "u.data", "\t", 4, "latin-1")
    u, i, r, ts = _ratings_arrays(rt, 0, 1, 2, 3, user_ids, item_ids, d / "u.user", d / "u.item")
    return _build(name, "ml-100k", item_ids, titles, years, genres,
                  user_ids, ages, genders, occupations, u, i, r, ts)  # fmt: skip


def _load_ml1m(directory: Path, name: str) -> InteractionData:
    d = directory
    it = read_table(d / "movies.dat", "::", 3, "latin-1")
    item_ids = unique_ids(it, string_column(it, 0, "movie id"), "movie id")
    titles, years = _title_year(string_column(it, 1, "title"), None)
    genres = [
        [g.strip() for g in s.split("|") if g.strip() and g.strip() != "(no genres listed)"]
        for s in it.df[2].astype(str)
    ]

    ut = read_table(d / "users.dat", "::", 5, "latin-1")
    user_ids = unique_ids(ut, string_column(ut, 0, "user id"), "user id")
    genders = _genders(ut, 1)
    ages = number_column(ut, 2, "age", integral=True)
    occupations = _occupations(ut, 3, codes=True)

    rt = read_table(d / "ratings.dat", "::", 4, "latin-1")
    u, i, r, ts = _ratings_arrays(
        rt, 0, 1, 2, 3, user_ids, item_ids, d / "users.dat", d / "movies.dat"
    )
    return _build(name, "ml-1m", item_ids, titles, years, genres,
                  user_ids, ages, genders, occupations, u, i, r, ts)  # fmt: skip


def _atomic_column(t: Table, *candidates: str, required: bool = True) -> str | None:
    """Header column whose field name (text before ``:``) is one of ``candidates``."""
    by_field = {str(c).split(":", 1)[0].strip().lower(): c for c in t.df.columns}
    for cand in candidates:
        if cand in by_field:
            return str(by_field[cand])
    if required:
        raise DataError(
            f"malformed file {t.path}: header has no {' / '.join(candidates)} field "
            f"(header: {', '.join(map(str, t.df.columns))})"
        )
    return None


def _load_atomic(stem: Path, name: str) -> InteractionData:
    inter, item, user = (stem.with_name(stem.name + ext) for ext in (".inter", ".item", ".user"))
    it = read_table(item, "\t", None, "utf-8", header=True)
    col = _atomic_column(it, "item_id")
    item_ids = unique_ids(it, string_column(it, col, "item id"), "item id")
    tcol = _atomic_column(it, "movie_title", "title")
    ycol = _atomic_column(it, "release_year", "year", required=False)
    gcol = _atomic_column(it, "class", "genre", "genres")
    titles, years = _title_year(
        string_column(it, tcol, "title"), it.df[ycol].astype(str) if ycol else None
    )
    genres = [s.split() for s in it.df[gcol].astype(str)]

    ut = read_table(user, "\t", None, "utf-8", header=True)
    ucol = _atomic_column(ut, "user_id")
    user_ids = unique_ids(ut, string_column(ut, ucol, "user id"), "user id")
    ages = number_column(ut, _atomic_column(ut, "age"), "age", integral=True)
    genders = _genders(ut, _atomic_column(ut, "gender"))
    occupations = _occupations(ut, _atomic_column(ut, "occupation"), codes=None)

    rt = read_table(inter, "\t", None, "utf-8", header=True)
    u, i, r, ts = _ratings_arrays(
        rt,
        _atomic_column(rt, "user_id"),
        _atomic_column(rt, "item_id"),
        _atomic_column(rt, "rating"),
        _atomic_column(rt, "timestamp"),
        user_ids, item_ids, user, item,
    )  # fmt: skip
    return _build(name, "atomic", item_ids, titles, years, genres,
                  user_ids, ages, genders, occupations, u, i, r, ts)  # fmt: skip


def detect_layout(directory: Path) -> tuple[str, Path]:
    """Return ``(layout, anchor)`` for a dataset directory.

    ``layout`` is a key of :data:`LAYOUTS`; ``anchor`` is the directory itself, or for the
    atomic layout the common path stem ``<dir>/<name>`` of the three files. A layout must
    be complete; the first complete one in the order ml-100k, ml-1m, atomic wins. Raises
    :class:`DataError` naming the missing file(s) when a layout is only partly present, or
    when nothing recognisable is there.
    """
    d = Path(directory)
    partial: list[str] = []
    for layout in ("ml-100k", "ml-1m"):
        files = LAYOUTS[layout]
        present = [f for f in files if (d / f).is_file()]
        if len(present) == len(files):
            return layout, d
        if present:
            missing = [f for f in files if f not in present]
            partial.append(f"{', '.join(missing)} (needed with {', '.join(present)})")

    stems = sorted(
        {p.with_suffix("") for ext in ("inter", "item", "user") for p in d.glob(f"*.{ext}")}
    )
    complete = [
        s for s in stems
        if all(s.with_name(s.name + ext).is_file() for ext in (".inter", ".item", ".user"))
    ]  # fmt: skip
    if len(complete) == 1:
        return "atomic", complete[0]
    if len(complete) > 1:
        preferred = [s for s in complete if s.name == d.name]
        if preferred:
            return "atomic", preferred[0]
        names = ", ".join(s.name for s in complete)
        raise DataError(f"directory {d} holds several atomic datasets ({names}); pick one")
    for s in stems:
        exts = (".inter", ".item", ".user")
        missing = [s.name + e for e in exts if not s.with_name(s.name + e).is_file()]
        present = [s.name + e for e in exts if s.with_name(s.name + e).is_file()]
        partial.append(f"{', '.join(missing)} (needed with {', '.join(present)})")
    if partial:
        raise DataError(f"incomplete dataset in {d}: missing {'; '.join(partial)}; {_LAYOUT_HELP}")
    raise DataError(f"no dataset files found in {d}; {_LAYOUT_HELP}")


def load_dataset(name_or_path: str | Path, cache_dir: Path | None = None) -> InteractionData:
    """Load a dataset by registry name (fetching it if needed) or from a directory.

    Args:
        name_or_path: ``movielens-100k`` / ``movielens-1m`` (see
            :data:`divrec_rl.data.fetch.DATASET_NAMES`), or a directory in one of the
            :data:`LAYOUTS` (GroupLens ML-100k, GroupLens ML-1M, RecBole atomic files).
        cache_dir: cache root for registry names (default ``$DIVREC_DATA`` or
            ``~/.cache/divrec_rl/data``); ignored for paths.

    Returns:
        :class:`InteractionData` (see the module docstring for the normalisation).

    Raises:
        DataError: unknown name (with a "did you mean"), missing/partial files (naming the
            file and the accepted layouts), malformed rows (naming file and line), or any
            fetch/checksum failure.
    """
    key = str(name_or_path)
    if isinstance(name_or_path, str) and key in DATASETS:
        directory = fetch_dataset(key, cache_dir=cache_dir)
        return _load_atomic(directory / Path(next(iter(DATASETS[key].files))).stem, key)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        if "/" in key or "\\" in key or key.startswith((".", "~")):
            raise DataError(
                f"no such directory {str(path)!r}; give a dataset name "
                f"({', '.join(DATASETS)}) or a dataset directory ({_LAYOUT_HELP})"
            )
        try:
            resolve_name(key)  # not a known name (handled above): raises with a hint
        except DataError as exc:
            raise DataError(f"{exc} (and no directory {str(path)!r} exists)") from None
    if not path.is_dir():
        raise DataError(f"{path} is not a directory; {_LAYOUT_HELP}")
    layout, anchor = detect_layout(path)
    name = path.resolve().name
    if layout == "ml-100k":
        return _load_ml100k(anchor, name)
    if layout == "ml-1m":
        return _load_ml1m(anchor, name)
    return _load_atomic(anchor, name)
