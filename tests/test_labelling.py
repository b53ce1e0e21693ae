import contextlib
import csv
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_dbal import ActiveLearner
from keras_dbal.saving import formats
from keras_dbal.tools import cli
from keras_dbal.tools import labelling
from keras_dbal.tools.label_files import LabelFileWarning
from keras_dbal.tools.labelling import LabelFileError
from tests.conftest import requires_backend
from tests.test_checkpoint import snapshot

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent

N_QUERY = 6
ROUND, INDEX, FILE, LABEL = (
    labelling.CSV_COLUMNS.index(name)
    for name in ("round", "pool_index", "image_file", "label")
)


@pytest.fixture(scope="module")
def session(tmp_path_factory, digits):
    """A session with one round taught and round 1 waiting for labels."""
    (x, y), _ = digits
    root = tmp_path_factory.mktemp("labelling")
    np.savez(root / "pool.npz", x_train=x[:120], y_train=y[:120])
    state = root / "state"
    assert cli.main([
        "init", "--state", str(state), "--pool", str(root / "pool.npz"),
        "--num-classes", "10", "--epochs", "1", "--mc-samples", "3",
    ]) == 0
    first = fill(labelling.query_session(state, N_QUERY), y)
    labelling.teach_session(state, first)
    template = labelling.query_session(state, N_QUERY)
    return {"state": state, "template": template, "y": y, "first": first,
            "root": root, "digits": digits}


def fill(template, y, path=None):
    with open(template, newline="") as file:
        rows = list(csv.reader(file))
    for row in rows[1:]:
        row[LABEL] = str(y[int(row[INDEX])])
    path = path or template.replace(".csv", "-filled.csv")
    write(path, rows)
    return path


def write(path, rows):
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)


@contextlib.contextmanager
def label_warnings():
    """The messages of the `LabelFileWarning`s raised inside (pytest.warns
    would re-raise the libraries' own deprecation warnings)."""
    messages = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield messages
    messages.extend(
        str(warning.message) for warning in caught
        if issubclass(warning.category, LabelFileWarning)
    )


def read(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def test_query_writes_sheet_images_and_template(session):
    folder = os.path.dirname(session["template"])
    assert folder.endswith("round-0001")
    with open(os.path.join(folder, "contact_sheet.png"), "rb") as file:
        assert file.read(4) == b"\x89PNG"
    rows = read(session["template"])
    assert rows[0] == labelling.CSV_COLUMNS
    assert len(rows) == N_QUERY + 1
    assert all(row[ROUND] == "1" and row[LABEL] == "" for row in rows[1:])
    for row in rows[1:]:
        assert os.path.isfile(os.path.join(folder, row[FILE]))


def test_query_again_rewrites_the_same_round(session):
    again = labelling.query_session(session["state"], N_QUERY)
    assert read(again) == read(session["template"])


MUTATIONS = [
    "wrong_round", "unknown_index", "duplicate", "label_too_big",
    "negative_label", "text_label", "blank_label", "short_row",
    "bad_header", "earlier_round_row", "empty", "other_session",
    "swapped_positions", "pasted_header", "signed_label",
]


def mutate(rows, kind, position, session):
    rows = [list(row) for row in rows]
    row = rows[1 + position % (len(rows) - 1)]
    if kind == "wrong_round":
        row[ROUND] = "0"
    elif kind == "unknown_index":
        asked = {r[INDEX] for r in rows[1:]}
        row[INDEX] = str(
            next(i for i in range(120) if str(i) not in asked)
        )
    elif kind == "duplicate":
        rows.append(list(row))
    elif kind == "label_too_big":
        row[LABEL] = "10"
    elif kind == "negative_label":
        row[LABEL] = "-1"
    elif kind == "text_label":
        row[LABEL] = "seven"
    elif kind == "signed_label":
        row[LABEL] = "+" + row[LABEL]
    elif kind == "blank_label":
        row[LABEL] = ""
    elif kind == "short_row":
        del row[FILE]
    elif kind == "bad_header":
        rows[0] = ["index", "label"]
    elif kind == "earlier_round_row":
        first = read(session["first"])[1]
        row[INDEX] = first[INDEX]
    elif kind == "empty":
        rows = rows[:1]
    elif kind == "other_session":
        row[0] = "0123456789ab"
    elif kind == "swapped_positions":
        other = rows[1 + (position + 1) % (len(rows) - 1)]
        row[INDEX], other[INDEX] = other[INDEX], row[INDEX]
    elif kind == "pasted_header":
        rows.insert(1 + position % (len(rows) - 1), list(rows[0]))
    return rows


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(MUTATIONS), position=st.integers(0, 100))
def test_malformed_csv_is_refused_and_state_untouched(session, kind,
                                                      position):
    state = session["state"]
    filled = read(fill(session["template"], session["y"]))
    bad = str(session["root"] / "bad.csv")
    write(bad, mutate(filled, kind, position, session))
    before = snapshot(state)
    with pytest.raises(LabelFileError):
        labelling.teach_session(state, bad)
    assert snapshot(state) == before


@pytest.mark.parametrize("cell", ["+3", "3_0", "\uff13"])
def test_labels_and_positions_are_digits_only(session, cell):
    # int() takes each of these (a sign, an underscore, a full-width 3);
    # none is what a person types for class 3.
    filled = read(fill(session["template"], session["y"]))
    for column in (LABEL, INDEX):
        rows = [list(row) for row in filled]
        rows[1][column] = cell
        bad = str(session["root"] / f"digits-{column}.csv")
        write(bad, rows)
        with pytest.raises(LabelFileError, match="whole number such as 3"):
            labelling.teach_session(session["state"], bad)


def test_cli_teach_error_is_one_line(session, capsys):
    bad = session["root"] / "bad-cli.csv"
    write(bad, [["nonsense"]])
    assert cli.main(["teach", "--state", str(session["state"]),
                     str(bad)]) == 2
    error = capsys.readouterr().err
    assert "header" in error and error.count("\n") == 1


def test_round_trip_teaches_and_moves_on(session, tmp_path):
    state = tmp_path / "copy"
    shutil.copytree(session["state"], state)
    template = str(state / "rounds" / "round-0001" / "labels.csv")
    learner = labelling.teach_session(state, fill(template, session["y"]))
    assert learner.num_labelled == 2 * N_QUERY
    np.testing.assert_array_equal(
        learner.y_labelled_, session["y"][learner.pool_indices_]
    )
    with pytest.raises(LabelFileError, match="No round is waiting"):
        labelling.teach_session(state, template)
    next_template = labelling.query_session(state, N_QUERY)
    assert "round-0002" in next_template
    asked = {int(row[INDEX]) for row in read(next_template)[1:]}
    assert not asked & set(learner.pool_indices_.tolist())


def test_init_refuses_an_existing_session(session, capsys):
    assert cli.main([
        "init", "--state", str(session["state"]), "--pool",
        str(session["root"] / "pool.npz"), "--num-classes", "10",
    ]) == 2
    assert "already holds" in capsys.readouterr().err


def test_init_names_a_missing_key(session, tmp_path, capsys):
    assert cli.main([
        "init", "--state", str(tmp_path / "s"), "--pool",
        str(session["root"] / "pool.npz"), "--key", "images",
        "--num-classes", "10",
    ]) == 2
    assert "has no array 'images'" in capsys.readouterr().err


# -- Nothing a person labelled may be lost (issue #10) --


@pytest.fixture
def copy(session, tmp_path):
    """A private copy of the session, round 1 waiting for labels."""
    state = tmp_path / "copy"
    shutil.copytree(session["state"], state)
    template = str(state / "rounds" / "round-0001" / "labels.csv")
    return state, template


def test_query_again_keeps_a_filled_csv(copy, session):
    state, template = copy
    fill(template, session["y"], path=template)  # filled in place
    filled = read(template)
    assert cli.main(["query", "--state", str(state), "--n", "3"]) == 0
    assert read(template) == filled
    learner = labelling.teach_session(state, template)
    assert learner.num_labelled == 2 * N_QUERY


def test_missing_rows_are_refused_then_taught_in_part(copy, session):
    state, template = copy
    rows = read(fill(template, session["y"]))
    part = str(state / "part.csv")
    write(part, rows[:3])
    before = snapshot(state)
    with pytest.raises(LabelFileError, match=r"labels 2 of the 6 images.*"
                       r"no label.*partial"):
        labelling.teach_session(state, part)
    assert snapshot(state) == before
    learner = labelling.teach_session(state, part, partial=True)
    assert learner.num_labelled == N_QUERY + 2
    assert labelling.pending_round(state)["round"] == 1
    # The whole CSV later: the two taught rows are checked and skipped.
    learner = labelling.teach_session(state, fill(template, session["y"]))
    assert learner.num_labelled == 2 * N_QUERY
    assert labelling.pending_round(state) is None
    assert len(set(learner.pool_indices_.tolist())) == 2 * N_QUERY


def test_a_taught_label_cannot_change(copy, session):
    state, template = copy
    rows = read(fill(template, session["y"]))
    part = str(state / "part.csv")
    write(part, rows[:3])
    labelling.teach_session(state, part, partial=True)
    rows[1][LABEL] = str((int(rows[1][LABEL]) + 1) % 10)
    changed = str(state / "changed.csv")
    write(changed, rows)
    before = snapshot(state)
    with pytest.raises(LabelFileError, match="already taught as"):
        labelling.teach_session(state, changed)
    assert snapshot(state) == before


def test_spreadsheet_csv_is_read(copy, session):
    state, template = copy
    rows = read(fill(template, session["y"]))
    path = state / "excel.csv"
    text = "\r\n".join(";".join(row) for row in rows) + "\r\n"
    path.write_bytes("\ufeff".encode() + text.encode())
    learner = labelling.teach_session(state, str(path))
    assert learner.num_labelled == 2 * N_QUERY


def test_unknown_header_says_what_was_found(copy):
    state, _ = copy
    path = state / "odd.csv"
    path.write_text("index|label\n1|2\n")
    with pytest.raises(LabelFileError, match=r"found 'index\|label'"):
        labelling.teach_session(state, str(path))


def test_damaged_pending_file_is_rebuilt_from_the_round_csv(copy, session,
                                                          capsys):
    state, template = copy
    filled = fill(template, session["y"])
    (state / "pending.json").write_text('{"round": 1, "ind')
    assert cli.main(["query", "--state", str(state)]) == 0
    error = capsys.readouterr().err
    assert "pending.json was damaged" in error and "round-0001" in error
    assert error.count("\n") == 1  # said once, and mended
    assert cli.main(["teach", "--state", str(state), filled]) == 0
    assert labelling.pending_round(state) is None


@pytest.mark.parametrize("indices", [[5, 5, 7], [1, 999], []])
def test_pending_positions_that_cannot_be_are_rebuilt_from_the_csv(
    copy, session, capsys, indices
):
    state, template = copy
    filled = fill(template, session["y"])
    asked = labelling.pending_round(state)
    (state / "pending.json").write_text(
        json.dumps({"round": 1, "indices": indices})
    )
    assert labelling.pending_round(state) == asked
    assert cli.main(["query", "--state", str(state)]) == 0
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert "positions must be distinct and in [0, 120)" in error
    assert json.loads((state / "pending.json").read_text()) == asked
    learner = labelling.teach_session(state, filled)
    assert learner.num_labelled == 2 * N_QUERY


def test_a_deleted_pending_file_is_rebuilt_from_the_csv(copy, session):
    # What the advice for a damaged pending.json used to be.
    state, template = copy
    filled = fill(template, session["y"])
    part = str(state / "part.csv")
    write(part, read(filled)[:3])
    labelling.teach_session(state, part, partial=True)
    os.remove(state / "pending.json")
    with label_warnings() as messages:
        path = labelling.query_session(state, 3)
    assert re.fullmatch(r".*pending\.json was missing but round 1 still "
                        r"waits for labels; it was rebuilt from .*round-0001"
                        r"/labels\.csv\.", messages[0])
    assert path == template
    learner = labelling.teach_session(state, filled)
    assert learner.num_labelled == 2 * N_QUERY


def test_a_damaged_pending_file_whose_round_was_never_shown(copy, session):
    # Killed after pending.json was written, before the round's CSV: the
    # learner's record of its last query still holds the round.
    state, template = copy
    asked = read(template)
    shutil.rmtree(state / "rounds" / "round-0001")
    (state / "pending.json").write_text("[]")
    with label_warnings() as messages:
        with pytest.raises(LabelFileError, match="No round is waiting"):
            labelling.teach_session(state, session["first"])
    assert "no round's CSV lists a round still waiting" in messages[0]
    assert not (state / "pending.json").exists()
    assert read(labelling.query_session(state, 3)) == asked


def test_damaged_pool_file_is_named(copy):
    state, _ = copy
    data = (state / "pool.npy").read_bytes()
    (state / "pool.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"pool\.npy.*restore it"):
        labelling.query_session(state, 3)


def test_query_needs_a_positive_n(session, tmp_path, capsys):
    state = tmp_path / "new"
    assert cli.main([
        "init", "--state", str(state), "--pool",
        str(session["root"] / "pool.npz"), "--num-classes", "10",
    ]) == 0
    for n in (0, -1):
        with pytest.raises(ValueError, match="positive integer"):
            labelling.query_session(state, n)
        with pytest.raises(SystemExit):
            cli.main(["query", "--state", str(state), "--n", str(n)])
    assert "expected a positive whole number" in capsys.readouterr().err
    assert not (state / "pending.json").exists()


def test_full_disk_during_teach_changes_nothing(copy, session, monkeypatch,
                                                capsys):
    state, template = copy
    filled = fill(template, session["y"])
    before = snapshot(state)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "arrays.npz")

    monkeypatch.setattr(formats.np, "savez", full_disk)
    assert cli.main(["teach", "--state", str(state), filled]) == 2
    error = capsys.readouterr().err
    assert "No space left on device" in error and error.count("\n") == 1
    assert snapshot(state) == before
    monkeypatch.undo()
    learner = labelling.teach_session(state, filled)
    assert learner.num_labelled == 2 * N_QUERY


def run_cli(*args):
    # Without TF_CPP_MIN_LOG_LEVEL: the command keeps its stderr clean.
    env = {key: value for key, value in os.environ.items()
           if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.Popen(
        [sys.executable, "-m", "keras_dbal", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@requires_backend("tensorflow")
@pytest.mark.slow
def test_teach_waits_for_the_lock_and_two_at_once_teach_once(copy, session):
    state, template = copy
    filled = fill(template, session["y"])
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.state_worker", "hold", str(state)],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert holder.stdout.readline().strip() == "locked"
    before = snapshot(state)
    try:
        teach = run_cli("teach", "--state", state, filled)
        _, err = teach.communicate(timeout=600)
        assert teach.returncode == 2
        assert f"is in use by process {holder.pid} " in err
        assert snapshot(state) == before
    finally:
        holder.kill()  # SIGKILL: the kernel frees its lock
        holder.communicate()
    # Two teach commands at once: one teaches; the other finds the session
    # in use, or the round already taught. Either way, no traceback, and
    # every label is taught once.
    processes = [run_cli("teach", "--state", state, filled) for _ in "ab"]
    results = [(*p.communicate(timeout=600), p.returncode)
               for p in processes]
    assert sorted(code for _, _, code in results) == [0, 2], results
    for _, err, code in results:
        assert "Traceback" not in err
        if code == 2:
            assert err.startswith("keras-dbal: error: ")
            assert err.count("\n") == 1
            assert "in use by process" in err or "No round is waiting" in err
    learner = ActiveLearner.load(state / "learner")
    assert learner.num_labelled == 2 * N_QUERY
    assert len(set(learner.pool_indices_.tolist())) == 2 * N_QUERY


def test_a_new_round_never_reuses_a_round_folder(copy, session):
    state, template = copy
    labelling.teach_session(state, fill(template, session["y"]))
    # A folder the learner's count does not know of (its checkpoint was
    # damaged and an older one loaded), its CSV filled by a person.
    kept = state / "rounds" / "round-0002"
    kept.mkdir()
    (kept / "labels.csv").write_text("precious\n")
    path = labelling.query_session(state, N_QUERY)
    assert "round-0003" in path
    assert (kept / "labels.csv").read_text() == "precious\n"


def test_init_never_deletes_a_learner_with_labels(copy, session):
    state, _ = copy
    os.remove(state / "session.json")
    before = snapshot(state / "learner")
    with pytest.raises(ValueError, match="holds a learner with labels"):
        labelling.init_session(state, np.zeros((5, 8, 8), "uint8") + 200, 10)
    assert snapshot(state / "learner") == before


def test_a_mistyped_state_directory_is_not_created(tmp_path, capsys):
    assert cli.main(["query", "--state", str(tmp_path / "typo")]) == 2
    assert "holds no labelling session" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


# -- Issue #22: what fault injection and a new user found --


def template_rows(names, indices, path):
    from keras_dbal.tools.label_files import image_file
    from keras_dbal.tools.label_files import write_template

    with open(path, "w", newline="") as file:
        write_template(file, "s", 0, indices,
                       [image_file(index, names) for index in indices])


def test_a_file_name_with_a_line_break_is_one_cell(tmp_path):
    names = ["a\nb.png", "c\r\nd.png", "e\u2028f.png", "g\u0085h.png",
             "plain.png"]
    path = tmp_path / "labels.csv"
    template_rows(names, range(5), path)
    rows = read(path)
    for row in rows[1:]:
        row[LABEL] = str(int(row[INDEX]) % 2)
    write(path, rows)
    pending = {"round": 0, "indices": list(range(5))}
    indices, labels = labelling.read_labels(path, pending, 2, names=names)
    assert indices.tolist() == [0, 1, 2, 3, 4]
    assert labels.tolist() == [0, 1, 0, 1, 0]


def test_an_over_long_cell_is_named(copy, capsys):
    state, template = copy
    rows = read(template)
    path = state / "long.csv"
    text = "\r\n".join(",".join(row) for row in rows[:2])
    # An unclosed quote swallows the rest of the file into one cell.
    path.write_text(text + '\r\n"' + "x" * 140_000 + "\r\n")
    with pytest.raises(LabelFileError, match=r"long\.csv, line 3: a cell "
                       r"is longer than 131,072 characters \(is a closing "
                       r"quote missing\?\)"):
        labelling.teach_session(state, str(path))
    assert cli.main(["teach", "--state", str(state), str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error


def test_swapped_positions_of_an_npz_pool_are_refused(copy, session):
    state, template = copy
    rows = read(fill(template, session["y"]))
    rows[1][INDEX], rows[2][INDEX] = rows[2][INDEX], rows[1][INDEX]
    swapped = str(state / "swapped.csv")
    write(swapped, rows)
    before = snapshot(state)
    with pytest.raises(LabelFileError, match=r"line 2: pool_index "
                       rf"{rows[1][INDEX]} is the image 'images/pool-0*"
                       rf"{rows[1][INDEX]}\.png', but this row names "
                       rf"'images/pool-0*{rows[2][INDEX]}\.png'"):
        labelling.teach_session(state, swapped)
    assert snapshot(state) == before


def test_two_csvs_pasted_together_are_named_so(copy, session):
    state, template = copy
    rows = read(fill(template, session["y"]))
    pasted = str(state / "pasted.csv")
    write(pasted, rows[:3] + rows)
    with pytest.raises(LabelFileError, match=r"line 4 repeats the header: "
                       r"were two CSVs pasted together\?"):
        labelling.teach_session(state, pasted)


def test_init_keeps_a_persons_files(session, tmp_path):
    state = tmp_path / "proj"
    (state / "learner").mkdir(parents=True)
    (state / "learner" / "notes.txt").write_text("mine")
    (state / "report.tmp-final.txt").write_text("mine too")
    assert cli.main([
        "init", "--state", str(state), "--pool",
        str(session["root"] / "pool.npz"), "--num-classes", "10",
    ]) == 0
    labelling.query_session(state, 2)
    assert (state / "learner" / "notes.txt").read_text() == "mine"
    assert (state / "report.tmp-final.txt").read_text() == "mine too"


def test_a_failed_init_leaves_nothing_of_its_own(session, tmp_path,
                                                 monkeypatch, capsys):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "arrays.npz")

    monkeypatch.setattr(formats.np, "savez", full_disk)
    arguments = ["--pool", str(session["root"] / "pool.npz"),
                 "--num-classes", "10"]
    made = tmp_path / "new" / "state"
    assert cli.main(["init", "--state", str(made), *arguments]) == 2
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    assert cli.main(["init", "--state", str(kept), *arguments]) == 2
    assert sorted(os.listdir(kept)) == ["notes.txt"]
    assert "No space left on device" in capsys.readouterr().err
    monkeypatch.undo()
    assert cli.main(["init", "--state", str(kept), *arguments]) == 0


def test_init_removes_what_a_killed_init_left_and_only_that(session,
                                                             tmp_path):
    state = tmp_path / "state"
    labelling.init_session(state, session["digits"][0][0][:20], 10)
    # What init leaves when killed before session.json, beside a
    # person's look-alike names.
    os.remove(state / "session.json")
    temporary = "pending.json.tmp-" + "0" * 32
    for name in (temporary, "x.tmp-" + "0" * 32, "pool.npy.tmp-later"):
        (state / name).write_text("")
    labelling.init_session(state, session["digits"][0][0][:30], 10)
    names = set(os.listdir(state))
    assert temporary not in names
    assert {"x.tmp-" + "0" * 32, "pool.npy.tmp-later"} <= names
    assert labelling.session_status(state)["images"] == 30


def test_a_damaged_session_file_is_rebuilt_from_the_checkpoint(copy,
                                                               session):
    state, template = copy
    original = json.loads((state / "session.json").read_text())
    filled = fill(template, session["y"])
    for damage in ("{", "[]", '{"num_classes": "ten"}', None):
        if damage is None:
            os.remove(state / "session.json")
        else:
            (state / "session.json").write_text(damage)
        with pytest.raises(LabelFileError, match=r"Run `keras-dbal query "
                           r"--state .*` \(or teach\) to rebuild it"):
            labelling.session_status(state)
        with label_warnings() as messages:
            labelling.query_session(state, 3)
        assert re.search(r"rebuilt from .*learner and .*pool\.npy",
                         messages[0])
        rebuilt = json.loads((state / "session.json").read_text())
        assert rebuilt == {**original, "source": None}
    (state / "session.json").write_text("{")
    with label_warnings() as messages:
        learner = labelling.teach_session(state, filled)
    assert "rebuilt" in messages[0]
    assert learner.num_labelled == 2 * N_QUERY


def teach_cli(state, path, *extra):
    assert cli.main(["teach", "--state", str(state), str(path), *extra]) == 0


def test_partial_rounds_say_how_many_images_still_wait(copy, session,
                                                       capsys):
    state, template = copy
    rows = read(fill(template, session["y"]))
    part = state / "part.csv"
    write(part, rows[:4])
    teach_cli(state, part, "--partial")
    assert capsys.readouterr().out == (
        "Taught 3 labels; 9 images are labelled.\n"
        f"Round 1 still waits for 3 of its 6 images in {part}: fill them "
        "and run the same teach command again.\n"
    )
    teach_cli(state, part, "--partial")
    assert capsys.readouterr().out == (
        f"Nothing new was taught: every labelled row of {part} was taught "
        "before; 9 images are labelled.\n"
        f"Round 1 still waits for 3 of its 6 images in {part}: fill them "
        "and run the same teach command again.\n"
    )
    assert cli.main(["query", "--state", str(state)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"Round 1 is still waiting for labels: 3 of its 6 images in "
        f"{template}; it was left as it is."
    )
    write(part, rows[:6])
    teach_cli(state, part, "--partial")
    assert capsys.readouterr().out.splitlines()[1] == (
        f"Round 1 still waits for 1 of its 6 images in {part}: fill them "
        "and run the same teach command again."
    )
    write(part, rows)
    teach_cli(state, part)
    assert capsys.readouterr().out == (
        "Taught 1 label; 12 images are labelled.\n"
        f"Next: keras-dbal query --state {state}\n"
    )


def test_count_says_one_image():
    from keras_dbal.tools.wording import count

    assert [count(n, "image") for n in (0, 1, 2)] == [
        "0 images", "1 image", "2 images"
    ]


def test_status_says_where_the_session_stands(copy, session, capsys):
    state, template = copy
    rows = read(fill(template, session["y"]))
    part = state / "part.csv"
    write(part, rows[:3])
    labelling.teach_session(state, part, partial=True)
    taught = [int(row[INDEX]) for row in read(session["first"])[1:]]
    taught += [int(row[INDEX]) for row in rows[1:3]]
    per_class = np.bincount(session["y"][taught], minlength=10).tolist()
    before = snapshot(state)
    status = labelling.session_status(state)
    assert status == {
        "images": 120, "labelled": N_QUERY + 2,
        "labels_per_class": per_class, "waiting_round": 1,
        "waiting_images": N_QUERY - 2, "round_images": N_QUERY,
        "waiting_csv": template, "acquisition": "bald", "seed": 0,
    }
    assert cli.main(["status", "--state", str(state)]) == 0
    classes = ", ".join(f"{c}: {n}" for c, n in enumerate(per_class))
    assert capsys.readouterr().out == (
        f"{state}: 8 of 120 images labelled ({classes}).\n"
        f"Round 1 is waiting for labels: 4 of its 6 images in {template}.\n"
        "Acquisition bald, seed 0.\n"
    )
    assert snapshot(state) == before


def worker(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.state_worker", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def killed_query(state, kill_at):
    process = worker("query", state, N_QUERY, kill_at)
    _, err = process.communicate(timeout=600)
    assert process.returncode == -signal.SIGKILL, err[-2000:]


@pytest.mark.slow
def test_a_query_killed_before_its_round_is_written_asks_the_same(
    copy, session, tmp_path
):
    state, template = copy
    labelling.teach_session(state, fill(template, session["y"]))
    clean = tmp_path / "clean"
    shutil.copytree(state, clean)
    # Killed after the checkpoint that records the query, before
    # pending.json is in place.
    killed_query(state, "pending.json")
    assert not (state / "pending.json").exists()
    assert len(list(state.glob("pending.json.tmp-*"))) == 1
    # Any n: an uninterrupted run would show its round whatever n is.
    shown = labelling.query_session(state, 2)
    assert not list(state.glob("*.tmp-*"))
    assert read(shown) == read(labelling.query_session(clean, N_QUERY))
    # The next query is the uninterrupted run's too.
    for directory in (state, clean):
        path = os.path.join(directory, "rounds", "round-0002", "labels.csv")
        labelling.teach_session(directory, fill(path, session["y"]))
    after = [labelling.query_session(d, N_QUERY) for d in (state, clean)]
    assert read(after[0]) == read(after[1])
    assert [ActiveLearner.load(d / "learner").round
            for d in (state, clean)] == [3, 3]


@pytest.mark.slow
def test_temporaries_a_killed_query_left_are_removed(copy, session):
    state, template = copy
    labelling.teach_session(state, fill(template, session["y"]))
    images = state / "rounds" / "round-0001" / "images"
    (images / "notes.tmp-mine.txt").write_text("mine")
    killed_query(state, ".png")
    round_images = state / "rounds" / "round-0002" / "images"
    assert len(list(round_images.glob("*.png.tmp-*"))) == 1
    labelling.query_session(state, N_QUERY)
    assert not list(state.rglob("*.tmp-????????????????????????????????"))
    assert (images / "notes.tmp-mine.txt").read_text() == "mine"


@pytest.mark.slow
def test_status_answers_while_another_command_holds_the_session(copy):
    state, template = copy
    holder = worker("hold", state)
    assert holder.stdout.readline().strip() == "locked"
    try:
        status = run_cli("status", "--state", state)
        out, err = status.communicate(timeout=600)
        assert status.returncode == 0, err
        assert out.splitlines()[1] == (
            f"Round 1 is waiting for labels: 6 of its 6 images in "
            f"{template}."
        )
    finally:
        holder.kill()
        holder.communicate()
