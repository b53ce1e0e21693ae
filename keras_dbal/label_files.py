"""The CSV a person fills in: the template, and reading it back strictly.

Columns `round, pool_index, image_file, label`. Spreadsheets save "CSV"
in their own ways; a byte-order mark and semicolon or tab separators are
read as well as plain commas. Every refusal names the file, the line and
the reason.
"""

import csv

import numpy as np

__all__ = ["CSV_COLUMNS", "LabelFileError", "read_labels", "write_template"]

CSV_COLUMNS = ["round", "pool_index", "image_file", "label"]
# What spreadsheets save "CSV" with, by locale.
_DELIMITERS = (",", ";", "\t")


class LabelFileError(ValueError):
    """A labels CSV that does not fit the pending query."""


def write_template(file, round_number, indices, image_files):
    """A CSV with one row per queried image and an empty label column.

    Args:
        file: A text file open for writing with `newline=""`.
    """
    writer = csv.writer(file)
    writer.writerow(CSV_COLUMNS)
    for index, name in zip(indices, image_files, strict=True):
        writer.writerow([round_number, index, name, ""])


def read_labels(path, pending, num_classes, *, allow_blank=False):
    """Parse and check a filled CSV template against the pending query.

    Commas, semicolons or tabs may separate the columns, and a byte-order
    mark may start the file, as spreadsheets save them. Positions outside
    the pending query are refused, so a position that is already labelled
    (it was asked for in an earlier round) is too.

    Args:
        path: The CSV.
        pending: The pending round, `{"round", "indices"}`.
        num_classes: Labels must be in `[0, num_classes)`.
        allow_blank: Skip rows with a blank label instead of refusing.

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
        round_text, index_text, _, label_text = (c.strip() for c in row)
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
        if index in seen:
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} appears twice."
            )
        seen.add(index)
        if label_text == "":
            if allow_blank:
                continue
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} has no label."
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
    try:
        # utf-8-sig: a spreadsheet's byte-order mark is not part of "round".
        with open(path, newline="", encoding="utf-8-sig") as file:
            text = file.read()
    except UnicodeDecodeError:
        raise LabelFileError(
            f"Cannot read {path}: it is not UTF-8 text. Save it as "
            "\"CSV UTF-8\" (or plain CSV)."
        ) from None
    except OSError as error:
        raise LabelFileError(f"Cannot read {path}: {error}") from None
    first_line = text.splitlines()[0] if text.strip() else ""
    for delimiter in _DELIMITERS:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        if [cell.strip() for cell in header] == CSV_COLUMNS:
            return list(csv.reader(text.splitlines(), delimiter=delimiter))
    raise LabelFileError(
        f"{path}: the first line must be the header "
        f"{','.join(CSV_COLUMNS)} (separated by commas, semicolons or "
        f"tabs); found {first_line[:80]!r}."
    )


def _parse_int(text, column, path, line):
    try:
        return int(text)
    except ValueError:
        raise LabelFileError(
            f"{path}, line {line}: {column} must be an integer, found "
            f"{text!r}."
        ) from None
