"""Reading delimited data files as strings, with errors that name the file and the line.

Every reader and column parser raises :class:`~divrec_rl.data.fetch.DataError` whose message
names the file, the 1-based line number and the offending value, so a malformed row in a
MovieLens file is found without opening a debugger.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from divrec_rl.data.fetch import DataError


@dataclass
class Table:
    """Raw string fields of a delimited file plus each row's 1-based line number."""

    path: Path
    df: pd.DataFrame  # columns 0..n-1 (or header names), all str
    lines: np.ndarray  # int64 line number of each row

    def fail(
        self, row_mask: np.ndarray | pd.Series, reason: str, column: object = None,
        values: pd.Series | None = None,
    ) -> None:  # fmt: skip
        """Raise a DataError for the first row where ``row_mask`` is true, quoting the
        offending value from ``values`` or from raw ``column`` when given."""
        mask = np.asarray(row_mask, dtype=bool)
        pos = int(np.flatnonzero(mask)[0])
        value = ""
        if values is not None:
            value = f" {values.iloc[pos]!r}"
        elif column is not None:
            value = f" {self.df[column].iloc[pos]!r}"
        raise DataError(
            f"malformed row in {self.path}, line {int(self.lines[pos])}: {reason}{value}"
        )


def decode_text(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    if encoding == "utf-8":
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return data.decode(encoding)


def read_table(
    path: Path, sep: str, ncols: int | None, encoding: str, header: bool = False
) -> Table:
    """Read a delimited file as strings, checking the number of fields on every line.

    ``ncols=None`` means "as many as the header line has" (``header=True`` required). Blank
    lines are ignored. A row with too few or too many fields raises :class:`DataError`
    naming the line.
    """
    text = decode_text(path, encoding)
    shown = sep  # the separator as the user knows it, for error messages
    if sep == "::":  # multi-char separators force pandas' slow python engine; use tabs
        if "\t" in text:
            text = text.replace("\t", " ")
        text = text.replace("::", "\t")
        sep = "\t"
    names: list[object]
    skip = 0
    if header:
        first, _, _ = text.partition("\n")
        names = [h.strip() for h in first.rstrip("\r").split(sep)]
        if not first.strip():
            raise DataError(f"malformed file {path}: line 1 must be a header, found nothing")
        skip = 1
        ncols = len(names)
    else:
        assert ncols is not None
        names = list(range(ncols))
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, header=None, names=list(range(ncols)), skiprows=skip,
            dtype=str, na_filter=False, keep_default_na=False, skip_blank_lines=False,
            quoting=csv.QUOTE_NONE, engine="c",
        )  # fmt: skip
    except pd.errors.ParserError:
        raise_field_count(path, text, sep, ncols, skip, shown)
        raise  # pragma: no cover - raise_field_count always raises
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({i: pd.Series([], dtype=str) for i in range(ncols)})
    df = df.fillna("")
    lines = np.arange(len(df), dtype=np.int64) + 1 + skip
    blank = (df.iloc[:, 0] == "").to_numpy().copy()
    if ncols == 1:  # a one-column file cannot tell blank lines from empty fields
        blank[:] = False
    if blank.any():
        blank[blank] = (df.loc[blank] == "").all(axis=1).to_numpy()
    if blank.any():
        df = df.loc[~blank].reset_index(drop=True)
        lines = lines[~blank]
    # too few fields: pandas pads with "" -- detect by counting separators on those rows
    suspicious = (
        (df.iloc[:, -1] == "").to_numpy(dtype=bool) if ncols > 1 else np.zeros(len(df), bool)
    )
    if suspicious.any():
        all_lines = text.split("\n")
        for pos in np.flatnonzero(suspicious):
            ln = int(lines[pos])
            got = all_lines[ln - 1].rstrip("\r").count(sep) + 1
            if got != ncols:
                raise DataError(
                    f"malformed row in {path}, line {ln}: expected {ncols} fields "
                    f"separated by {shown!r}, found {got}"
                )
    df.columns = names
    return Table(path=path, df=df, lines=lines)


def raise_field_count(path: Path, text: str, sep: str, ncols: int, skip: int, shown: str) -> None:
    for ln, line in enumerate(text.split("\n"), start=1):
        if ln <= skip or not line.strip():
            continue
        got = line.rstrip("\r").count(sep) + 1
        if got != ncols:
            raise DataError(
                f"malformed row in {path}, line {ln}: expected {ncols} fields "
                f"separated by {shown!r}, found {got}"
            )
    raise DataError(f"malformed file {path}: could not be parsed")


def string_column(t: Table, col: object, what: str) -> pd.Series:
    """Stripped string column; an empty value is a malformed row."""
    s = t.df[col].astype(str).str.strip()
    empty = (s == "").to_numpy()
    if empty.any():
        t.fail(empty, f"empty {what}")
    return s


def number_column(t: Table, col: object, what: str, integral: bool) -> np.ndarray:
    """Parse a column as float64 (fast numpy path; pandas only to locate a bad value)."""
    raw = t.df[col].to_numpy(dtype=object)
    try:
        num = raw.astype(np.float64)
    except (ValueError, TypeError):
        num = pd.to_numeric(pd.Series(raw).str.strip(), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(num)
    if integral:
        bad |= num != np.round(num)
    if bad.any():
        t.fail(bad, f"invalid {what}", col)
    return num


def unique_ids(t: Table, ids: pd.Series, what: str) -> pd.Index:
    dup = ids.duplicated().to_numpy()
    if dup.any():
        t.fail(dup, f"duplicate {what}", values=ids)
    return pd.Index(ids.to_numpy(dtype=object))


def lookup(t: Table, index: pd.Index, col: object, what: str, source: Path) -> np.ndarray:
    """Positions in ``index`` of the ids in column ``col`` (ids are matched as stripped
    strings; the strip is only paid for rows that do not match verbatim)."""
    keys = t.df[col].to_numpy(dtype=object)
    codes = index.get_indexer(keys)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        stripped = np.array([str(k).strip() for k in keys[missing]], dtype=object)
        codes[missing] = index.get_indexer(stripped)
        still = missing[codes[missing] < 0]
        if len(still):
            pos = int(still[0])
            key = str(keys[pos]).strip()
            problem = f"empty {what}" if not key else f"{what} {key!r} is not in {source.name}"
            raise DataError(f"malformed row in {t.path}, line {int(t.lines[pos])}: {problem}")
    return codes.astype(np.int64)
