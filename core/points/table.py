"""Points from delimited text as it comes: any separator, comments, decimal commas, extra columns, no header.

:func:`read_table` reads the text into rows without deciding what they mean:

- ``#`` comment lines are skipped (line numbers in messages still count them);
- the separator is sniffed among ``,`` ``;`` tab ``|`` (the one that splits the first lines into the same number
  of fields, at least two; the most fields wins, then that order), else runs of white space (a ``.txt`` of two
  columns of numbers);
- with a separator other than ``,``, numbers written with a decimal comma (``1,5``) are read as ``1.5``;
- a first line of numbers only is data, not a header: the columns are then named ``1``, ``2``, … .

:func:`choose_columns` picks x, y and the optional weight and label: the columns named so (any case), or the
user's choice (:class:`Columns`, by name or 1-based position); a file of exactly two columns without those names
is read as x, y. Other columns are ignored, each choice made for the user is returned as a note, and when x and y
cannot be told :class:`ColumnsNeeded` (a :class:`~core.points.dataset.DataError`) names the columns so that the user can
choose (``--x-col`` / ``--y-col``, the app's column picker).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field

from core.points import dataset as _data

SEPARATORS = (",", ";", "\t", "|")
WHITESPACE = " "  # the separator name for runs of white space
ROLES = ("x", "y", "weight", "label")
_DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d+,\d+([eE][+-]?\d+)?\s*$")
_SNIFF_LINES = 50


class ColumnsNeeded(_data.DataError):
    """x and y cannot be told from the file's columns; ``columns`` lists them for a picker."""

    def __init__(self, message: str, columns: list[str]):
        super().__init__(message)
        self.columns = columns


@dataclass(frozen=True)
class Columns:
    """Which columns hold x, y and (optionally) weight and label: header names (any case) or 1-based positions."""

    x: str
    y: str
    weight: str | None = None
    label: str | None = None


@dataclass
class Table:
    where: str
    names: list[str]  # column names as written (stripped), or "1", "2", … without a header
    header: bool
    rows: list[tuple[int, list[str]]]  # (first line of the record, its fields)
    separator: str
    decimal_comma: bool = False
    notes: list[str] = field(default_factory=list)

    def describe_separator(self) -> str:
        return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars", WHITESPACE: "spaces"}[
            self.separator
        ]


def _blank_comments(text: str) -> str:
    """Comment lines emptied, not removed, so that line numbers stay those of the file."""
    return "".join("\n" if line.lstrip().startswith("#") else line for line in text.splitlines(keepends=True))


def _sniff(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()][:_SNIFF_LINES]
    if not lines:
        return ","
    best, best_fields = None, 1
    for sep in SEPARATORS:
        try:
            counts = {len(next(csv.reader([line], delimiter=sep))) for line in lines}
        except csv.Error:
            continue
        if len(counts) == 1 and (n := counts.pop()) > best_fields:
            best, best_fields = sep, n
    if best is not None:
        return best
    if not any(sep in line for line in lines for sep in SEPARATORS):
        counts = {len(line.split()) for line in lines}
        if len(counts) == 1 and counts.pop() >= 2:
            return WHITESPACE
    return ","  # the field-count message of the first bad line says what is wrong


def _records(text: str, sep: str, where: str):
    if sep == WHITESPACE:
        for number, line in enumerate(text.splitlines(), start=1):
            yield number, line.split()
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    end = 0  # the last line of the previous record (a quoted field may span lines)
    try:
        for row in reader:
            line, end = end + 1, reader.line_num
            yield line, row
    except csv.Error as exc:
        _data._fail(
            f"{where}, line {end + 1}",
            f"malformed CSV ({exc})",
            'Check the double quotes: a quoted field must end with " and a " inside it is written "".',
        )


def _number_like(text: str, decimal_comma: bool) -> bool:
    t = text.strip().replace(",", ".") if decimal_comma else text.strip()
    try:
        float(t)
    except ValueError:
        return False
    return True


def read_table(text: str, where: str) -> Table:
    """The rows of ``text`` (module docstring); raises DataError for an empty file or malformed quoting."""
    text = _blank_comments(text)
    sep = _sniff(text)
    records = [(line, row) for line, row in _records(text, sep, where) if any(f.strip() for f in row)]
    if not records:
        _data._empty(where)
    decimal_comma = sep != "," and any(
        _DECIMAL_COMMA.match(f) for _, row in records[:_SNIFF_LINES] for f in row
    )
    first_line, first = records[0]
    header = not all(_number_like(f, decimal_comma) for f in first)
    if header:
        names = [f.strip() for f in first]
        rows = records[1:]
        counts = Counter(n.lower() for n in names if n)
        twice = next((n for n in names if n and counts[n.lower()] > 1), None)
        if twice is not None:
            _data._fail(
                f"{where}, line {first_line}",
                f"column {twice.lower()!r} appears {counts[twice.lower()]} times in the header",
                "Keep one of them.",
            )
    else:
        names = [str(k + 1) for k in range(len(first))]
        rows = records
    table = Table(where, names, header, rows, sep, decimal_comma)
    if sep not in (",", WHITESPACE):
        table.notes.append(f"columns separated by {table.describe_separator()}")
    if decimal_comma:
        table.notes.append("decimal commas read as decimal points (1,5 = 1.5)")
    return table


def _find(table: Table, wanted: str, option: str) -> int:
    wanted_l = wanted.strip().lower()
    for k, name in enumerate(table.names):
        if name.lower() == wanted_l:
            return k
    if wanted_l.isdigit() and 1 <= int(wanted_l) <= len(table.names):
        return int(wanted_l) - 1
    raise ColumnsNeeded(
        f"{table.where}: no column {wanted!r} for {option}. The columns are {_data._list_names(table.names, 12)}; "
        "give one of these names or a 1-based position.",
        list(table.names),
    )


def choose_columns(table: Table, columns: Columns | None = None) -> tuple[dict[str, int], list[str]]:
    """Role → column index, and the notes on what was chosen or ignored (module docstring)."""
    notes: list[str] = []
    lower = [n.lower() for n in table.names]
    if columns is not None:
        picked = {"x": _find(table, columns.x, "x"), "y": _find(table, columns.y, "y")}
        for role in ("weight", "label"):
            chosen = getattr(columns, role)
            if chosen:
                picked[role] = _find(table, chosen, role)
    elif "x" in lower and "y" in lower:
        picked = {role: lower.index(role) for role in ROLES if role in lower}
    elif len(table.names) == 2 and not {"weight", "label"} & set(lower):
        picked = {"x": 0, "y": 1}
        if table.header:
            notes.append(f"read column {table.names[0]!r} as x and {table.names[1]!r} as y")
        else:
            notes.append("no header line: read the two columns as x and y")
    else:
        at = f"{table.where}, line {table.rows[0][0] - 1 if table.header and table.rows else 1}"
        missing = [r for r in ("x", "y") if r not in lower]
        problem = (
            f"the header has no {' or '.join(map(repr, missing))} column"
            if table.header
            else f"no header line, and {len(table.names)} columns: which are x and y?"
        )
        raise ColumnsNeeded(
            f"{at}: {problem}. The columns are {_data._list_names(table.names, 12)}: name two of them x and y, or "
            "choose them (--x-col NAME --y-col NAME on the command line, the column picker in the app).",
            list(table.names),
        )
    if len(set(picked.values())) < len(picked):
        _data._fail(table.where, "one column is chosen for two roles", "Choose a different column for each.")

    def says_something(k: int) -> bool:  # a named column, or one with a value somewhere (not a trailing ",")
        return bool(table.names[k]) or any(k < len(row) and row[k].strip() for _, row in table.rows)

    ignored = [
        table.names[k] or f"(unnamed, column {k + 1})"
        for k in range(len(table.names))
        if k not in picked.values() and says_something(k)
    ]
    if ignored:
        notes.append(f"ignored column(s) {_data._list_names(ignored)}")
    return picked, notes


def dataset_from_table(table: Table, picked: dict[str, int], name: str) -> _data.Dataset:
    """The points of the chosen columns; messages name the line of a bad value (core.points.dataset's wording)."""
    values: dict[str, list] = {role: [] for role in picked}
    ncols = len(table.names)
    for line, row in table.rows:
        at = f"{table.where}, line {line}"
        if len(values["x"]) >= _data.MAX_POINTS:
            _data._fail(at, f"more than {_data.MAX_POINTS} points", "Use a subset of the points.")
        if len(row) != ncols:
            hint = (
                "Write one value per column: check for a decimal comma (write 1.5, not 1,5) "
                "or a label with a comma that is not in double quotes."
                if table.separator == ","
                else "Write one value per column."
            )
            _data._fail(at, f"{len(row)} fields, but the header has {ncols} columns", hint)
        for role, k in picked.items():
            text = row[k]
            if role == "label":
                values[role].append(text.strip())
                continue
            if table.decimal_comma:
                text = text.replace(",", ".")
            values[role].append(_data._csv_number(text, role, at))
    n = len(values["x"])
    if n < _data.MIN_POINTS:
        _data._fail(
            table.where,
            f"only {n} data line(s); at least {_data.MIN_POINTS} points are needed",
            "Add points below the header.",
        )
    return _data.Dataset(
        **_data._normalise_fields(
            table.where, values["x"], values["y"], values.get("weight"), values.get("label"), name
        )
    )


def parse_points_text(
    text: str, where: str, name: str, columns: Columns | None = None
) -> tuple[_data.Dataset, list[str]]:
    """Points from delimited text, and notes on every choice made for the user."""
    table = read_table(text, where)
    picked, notes = choose_columns(table, columns)
    return dataset_from_table(table, picked, name), [*table.notes, *notes]


__all__ = [
    "Columns",
    "ColumnsNeeded",
    "Table",
    "choose_columns",
    "dataset_from_table",
    "parse_points_text",
    "read_table",
]
