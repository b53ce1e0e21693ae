"""The CSV a person fills in: the template, and reading it back strictly.

Columns `session, round, pool_index, image_file, label`; `session` is
the first 12 hex digits of the session pool's fingerprint, so a CSV of
another session (same round, same positions, other images) is refused.
`image_file` is the image's PNG in the round's folder or, for a pool read
from a folder of images, the image's own file (relative to that folder);
either way `read_labels` checks it against the row's position, so a
position edited by hand is refused.
Spreadsheets save "CSV" in their own ways; a byte-order mark and
semicolon or tab separators are read as well as plain commas. Every
refusal names the file, the line and the reason.
"""

import csv
import re
import unicodedata

import numpy as np

__all__ = [
    "CSV_COLUMNS",
    "LabelFileError",
    "LabelFileWarning",
    "image_file",
    "read_labels",
    "read_template",
    "write_template",
]

CSV_COLUMNS = ["session", "round", "pool_index", "image_file", "label"]
# What spreadsheets save "CSV" with, by locale.
_DELIMITERS = (",", ";", "\t")


class LabelFileError(ValueError):
    """A labels CSV that does not fit the pending query."""


class LabelFileWarning(UserWarning):
    """A session file was damaged and rebuilt from another."""


def read_template(path):
    """`(round, indices)` listed by a round's CSV (filled or not)."""
    rows = _read_rows(path)
    try:
        rounds = {int(row[1]) for row in rows[1:] if any(row)}
        indices = [int(row[2]) for row in rows[1:] if any(row)]
    except (ValueError, IndexError):
        raise LabelFileError(f"{path} is not a round's CSV.") from None
    if len(rounds) != 1 or not indices:
        raise LabelFileError(f"{path} is not a round's CSV.")
    return rounds.pop(), indices


def image_file(index, names=None):
    """The `image_file` of pool position `index`: the image's own file in
    a named pool (`names`), else its PNG in the round's folder."""
    if names is not None:
        return names[index]
    return f"images/pool-{index:07d}.png"


def write_template(file, session, round_number, indices, image_files):
    """A CSV with one row per queried image and an empty label column.

    Args:
        file: A text file open for writing with `newline=""`.
        session: The session's identifier (see the module docstring).
    """
    writer = csv.writer(file)
    writer.writerow(CSV_COLUMNS)
    for index, name in zip(indices, image_files, strict=True):
        writer.writerow([session, round_number, index, name, ""])


def read_labels(path, pending, num_classes, *, session=None,
                allow_blank=False, names=None):
    """Parse and check a filled CSV template against the pending query.

    Commas, semicolons or tabs may separate the columns, and a byte-order
    mark may start the file, as spreadsheets save them. Positions outside
    the pending query are refused, so a position that is already labelled
    (it was asked for in an earlier round) is too.

    Args:
        path: The CSV.
        pending: The pending round, `{"round", "indices"}`.
        num_classes: Labels must be in `[0, num_classes)`.
        session: The session's identifier; rows of another are refused.
        allow_blank: Skip rows with a blank label instead of refusing.
        names: The pool's file names, if it has them (see
            `image_file`): each row's `image_file` must be its position's.

    Returns:
        `(indices, labels)` of the labelled rows, as int64 arrays.
    """
    rows = _read_rows(path)
    indices, labels = [], []
    seen = set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_COLUMNS):
            raise LabelFileError(
                f"{path}, line {line}: expected {len(CSV_COLUMNS)} columns, "
                f"found {len(row)}."
            )
        session_text, round_text, index_text, file_text, label_text = (
            cell.strip() for cell in row
        )
        if [session_text, round_text, index_text, file_text,
                label_text] == CSV_COLUMNS:
            raise LabelFileError(
                f"{path}, line {line} repeats the header: were two CSVs "
                "pasted together? Keep the first header and the rows of "
                f"round {pending['round']} only."
            )
        if session is not None and session_text != session:
            raise LabelFileError(
                f"{path}, line {line}: this CSV belongs to another labelling "
                f"session (session {session_text!r}; this one is "
                f"{session!r}): its positions name other images."
            )
        round_number = _parse_int(round_text, "round", path, line)
        if round_number != pending["round"]:
            raise LabelFileError(
                f"{path}, line {line}: this CSV answers round {round_number}"
                f", but the query waiting for labels is round "
                f"{pending['round']}."
            )
        index = _parse_int(index_text, "pool_index", path, line)
        if index not in pending["indices"]:
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} was not asked "
                f"for in round {pending['round']}."
            )
        expected = image_file(index, names)
        if _same_name(file_text) != _same_name(expected):
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} is the image "
                f"{expected!r}, but this row names {file_text!r}. Was a "
                "cell edited? Put back the round's pool_index and image_file."
            )
        if index in seen:
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} appears twice."
            )
        seen.add(index)
        if label_text == "":
            if allow_blank:
                continue
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} has no label (to "
                "teach the rows that have one, use --partial)."
            )
        label = _parse_int(label_text, "label", path, line)
        if not 0 <= label < num_classes:
            raise LabelFileError(
                f"{path}, line {line}: label {label} is outside the "
                f"classes 0..{num_classes - 1}."
            )
        indices.append(index)
        labels.append(label)
    if not indices:
        raise LabelFileError(f"{path} has no labelled rows.")
    return np.array(indices, "int64"), np.array(labels, "int64")


def _read_rows(path):
    """The CSV's rows, its header first.

    Read by the `csv` module from the file itself (opened with
    `newline=""`), so a quoted cell may hold any character a file name
    can, a line break included.
    """
    try:
        # utf-8-sig: a spreadsheet's byte-order mark is not part of "round".
        with open(path, newline="", encoding="utf-8-sig") as file:
            for delimiter in _DELIMITERS:
                file.seek(0)
                rows = _rows_under_header(file, delimiter, path)
                if rows is not None:
                    return rows
            file.seek(0)
            first_line = file.readline(200).rstrip("\r\n")
    except UnicodeDecodeError:
        raise LabelFileError(
            f"Cannot read {path}: it is not UTF-8 text. Save it as "
            "\"CSV UTF-8\" (or plain CSV)."
        ) from None
    except OSError as error:
        raise LabelFileError(f"Cannot read {path}: {error}") from None
    raise LabelFileError(
        f"{path}: the first line must be the header "
        f"{','.join(CSV_COLUMNS)} (separated by commas, semicolons or "
        f"tabs); found {first_line[:80]!r}."
    )


def _rows_under_header(file, delimiter, path):
    """Every row if the first is the header with `delimiter`, else None."""
    reader = csv.reader(file, delimiter=delimiter)
    try:
        header = next(reader, [])
    except csv.Error:
        return None
    if [cell.strip() for cell in header] != CSV_COLUMNS:
        return None
    rows = [header]
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as error:
        raise LabelFileError(
            f"{path}, line {len(rows) + 1}: {_csv_problem(error)}"
        ) from None
    return rows


def _csv_problem(error):
    if "field larger than field limit" in str(error):
        return (
            f"a cell is longer than {csv.field_size_limit():,} characters "
            "(is a closing quote missing?)."
        )
    return f"not a valid CSV row ({error})."


def _same_name(name):
    """A file name as a spreadsheet may give it back: stripped, NFC."""
    return unicodedata.normalize("NFC", name.strip())


def _parse_int(text, column, path, line):
    # Digits only: int() also takes "+3", "3_000" and " 3", which a
    # person did not mean as a class or a position.
    if not re.fullmatch(r"[0-9]+", text):
        raise LabelFileError(
            f"{path}, line {line}: {column} must be a whole number such as "
            f"3, found {text!r}."
        )
    return int(text)
