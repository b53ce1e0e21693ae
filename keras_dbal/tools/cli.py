"""The `keras-dbal` command.

`keras-dbal run` runs a simulated experiment in the protocol of Gal et al.
(2017) and writes a learning-curve PNG, a CSV and a JSON file. With no
arguments it needs no network: it uses the digits embedded in scikit-learn.
`init`, `query`, `teach` and `status` run a labelling session by hand.

The command parses its arguments, and answers `--help` and `--version`,
before it starts a Keras backend (seconds): this module imports only what
starts nothing, and each command imports what it needs when it runs.
"""

import argparse
import dataclasses
import os
import re
import sys
import types
import warnings

import keras_dbal.tools.commands as actions
from keras_dbal import _quiet
from keras_dbal import acquisition_registry
from keras_dbal.datasets.loaders import DATASETS
from keras_dbal.experiments.config import ExperimentConfig
from keras_dbal.tools.plotting import METRICS
from keras_dbal.utils.interrupts import deferred_interrupt
from keras_dbal.version import __version__


def _count(text):
    """A count as a person types it: digits only (int() takes "+3",
    " 3" and "3_000" too)."""
    if not re.fullmatch(r"[0-9]+", text):
        raise argparse.ArgumentTypeError(
            f"expected a whole number such as 3, found {text!r}"
        )
    return int(text)


def _positive_int(text):
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number, found {text!r}"
        )
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a positive number, found {text!r}"
        )
    return value


def _shown(value):
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value) or "none"
    return value


def _parser():
    """The parser, and each command's own parser by name."""
    # One source of defaults for `run` and `init`: ExperimentConfig's
    # fields (an instance would check its names, importing Keras).
    defaults = types.SimpleNamespace(**{
        field.name: field.default
        for field in dataclasses.fields(ExperimentConfig)
    })
    parser = argparse.ArgumentParser(
        prog="keras-dbal",
        description="Deep Bayesian active learning for Keras 3.",
    )
    parser.add_argument(
        "--version", action="version", version=__version__
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run a simulated active-learning experiment",
        description=(
            "Start from a few balanced labels, acquire --query-size images "
            "per round with each acquisition function, refit the Bayesian "
            "CNN, and plot test accuracy against labelled images."
        ),
    )
    names = ", ".join(acquisition_registry.names())
    run.add_argument(
        "--acquisition", nargs="+", default=list(defaults.acquisitions),
        metavar="NAME", choices=acquisition_registry.names(),
        help=f"acquisition functions to compare, from: {names} (default: "
        f"{_shown(defaults.acquisitions)})",
    )
    run.add_argument(
        "--deterministic", nargs="*", default=list(defaults.deterministic),
        metavar="NAME", choices=acquisition_registry.names(),
        help="acquisition functions also run on the deterministic twin CNN "
        f"(default: {_shown(defaults.deterministic)})",
    )
    run.add_argument(
        "--ensemble", nargs="*", default=list(defaults.ensembles),
        metavar="NAME", choices=acquisition_registry.names(),
        help="acquisition functions also run on a deep ensemble of "
        "--ensemble-size deterministic twins (default: "
        f"{_shown(defaults.ensembles)})",
    )
    for flag, name, text in (
        ("--rounds", "rounds", "acquisition rounds"),
        ("--query-size", "query_size", "images acquired per round"),
        ("--mc-samples", "mc_samples", "MC dropout samples T"),
        ("--initial-per-class", "initial_per_class",
         "initial labels per class"),
        ("--epochs", "epochs", _EPOCHS_HELP),
        ("--batch-size", "batch_size", "training batch size"),
        ("--pool-subset", "pool_subset",
         "random pool images scored per round"),
        ("--ensemble-size", "ensemble_size", "members of each --ensemble"),
    ):
        default = getattr(defaults, name)
        run.add_argument(flag, type=_positive_int, default=default,
                         metavar="N", help=f"{text} (default: {default})")
    run.add_argument(
        "--seed", type=_count, nargs="+", default=list(defaults.seeds),
        metavar="SEED",
        help=f"one run per seed (default: {_shown(defaults.seeds)})",
    )
    run.add_argument("--dataset", default="digits", choices=DATASETS,
                     help="digits is embedded; mnist and fashion_mnist "
                     "download through keras.datasets (default: digits)")
    run.add_argument("--data", metavar="FILE.npz",
                     help="local data file with keys x_train y_train x_test "
                     "y_test, as Keras's mnist.npz (default: none, use "
                     "--dataset)")
    run.add_argument("--out", metavar="DIR",
                     help="output folder (default: keras_dbal_results)")
    run.add_argument("--resume", metavar="DIR",
                     help="continue the experiment in DIR (an earlier "
                     "run's --out, stopped or killed) from its last "
                     "finished round, given the same options (--rounds may "
                     "be more); its results go on in DIR (default: start "
                     "afresh in --out)")
    run.add_argument("--metric", default="accuracy", choices=sorted(METRICS),
                     help="test metric of the plot; auc and "
                     "balanced_accuracy suit imbalanced classes (default: "
                     "accuracy)")
    run.add_argument("--equal-batches", action="store_true",
                     help="fit on batches of one size (130 labels at 128: "
                     "two of 65), not a last batch of a few images, which "
                     "makes the paper's curves dip at 130 labels (default: "
                     "the paper's batches)")
    run.add_argument("--ray", metavar="auto|ADDRESS",
                     help="run each seed's runs as a task on a Ray "
                     "cluster, each seed's state in the output folder so a "
                     "lost worker costs a round: auto (the cluster "
                     "RAY_ADDRESS names, else a new local one) or a "
                     "cluster's address; needs pip install "
                     "\"keras-dbal[ray]\" (default: one process)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress lines (default: show them)")
    init = commands.add_parser(
        "init",
        help="start a labelling session on a pool of images",
        description="Create a state directory with the pool and a Bayesian "
        "CNN, ready for `keras-dbal query`.",
    )
    init.add_argument("--state", required=True, metavar="DIR",
                      help="the state directory to create for the session")
    init.add_argument("--pool", required=True, metavar="FILE.npz|DIR",
                      help="images to label: an .npz (under --key), or a "
                      "folder of image files (read with its subfolders, "
                      "named by file in every CSV)")
    init.add_argument("--image-size", type=_positive_int, nargs=2,
                      default=[64, 64], metavar=("HEIGHT", "WIDTH"),
                      help="size a folder's images are resized to "
                      "(folders only; default: 64 64)")
    init.add_argument("--color-mode", default="rgb",
                      choices=("grayscale", "rgb", "rgba"),
                      help="channels of a folder's images (folders only; "
                      "default: rgb)")
    init.add_argument("--key", default="x_train",
                      help="array of the .npz holding the images "
                      "(default: x_train)")
    init.add_argument("--num-classes", type=_positive_int, required=True,
                      metavar="C", help="number of classes a person may "
                      "assign, labels 0 to C-1 (required)")
    init.add_argument("--max-value", type=_positive_float, metavar="VALUE",
                      help="pixel value that means white (default: 255 for "
                      "integer images, 1 for floats)")
    single = ", ".join(acquisition_registry.names(batch=False))
    init.add_argument("--acquisition", default="bald", metavar="NAME",
                      choices=acquisition_registry.names(batch=False),
                      help=f"how to choose images to label, from: {single} "
                      "(default: bald)")
    for flag, name, text in (("--mc-samples", "mc_samples",
                              "MC dropout samples T"),
                             ("--epochs", "epochs", _EPOCHS_HELP),
                             ("--batch-size", "batch_size",
                              "training batch size")):
        default = getattr(defaults, name)
        init.add_argument(flag, type=_positive_int, default=default,
                          metavar="N", help=f"{text} (default: {default})")
    init.add_argument("--seed", type=_count, default=0, metavar="SEED",
                      help="seed of the CNN's weights, its dropout masks "
                      "and the queries: the same seed, the same queries "
                      "(default: 0)")
    query = commands.add_parser(
        "query",
        help="choose images to label; write a contact sheet and a CSV",
        description="Score the pool and write the next round: a contact "
        "sheet of the chosen images and a CSV whose label column a person "
        "fills in. While a round waits for labels, it is shown again.",
    )
    query.add_argument("--state", required=True, metavar="DIR",
                       help="the session's state directory (made by init)")
    query.add_argument("--n", type=_positive_int, default=10,
                       help="images to label (default: 10)")
    teach = commands.add_parser(
        "teach",
        help="teach the labels of a filled CSV and refit",
        description="Read the filled CSV of the waiting round, add its "
        "labels to the labelled set and refit the CNN.",
    )
    teach.add_argument("--state", required=True, metavar="DIR",
                       help="the session's state directory (made by init)")
    teach.add_argument("labels", metavar="LABELS.csv",
                       help="the round's CSV with its label column filled")
    teach.add_argument("--partial", action="store_true",
                       help="teach the rows that have labels and keep the "
                       "rest of the round waiting (default: every row "
                       "needs a label)")
    status = commands.add_parser(
        "status",
        help="show a labelling session's labels and waiting round",
        description="Say how many images are labelled, per class, and "
        "which round waits for labels in which CSV. Changes nothing, and "
        "answers while another command works on the session.",
    )
    status.add_argument("--state", required=True, metavar="DIR",
                        help="the session's state directory (made by init)")
    for name, command in commands.choices.items():
        command.set_defaults(handler=getattr(actions, name))
    return parser, commands.choices


# `init` and `run` share ExperimentConfig's training defaults.
_EPOCHS_HELP = (
    "training epochs per fit; with few labels each epoch is one or two "
    "steps, so a fit needs many"
)


def main(argv=None):
    if _quiet.interrupted_early():
        return _fail("interrupted; nothing was done.", 130)
    parser, commands = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if getattr(args, "ray", None):
        # The driver of a study on Ray computes nothing: the GPUs are its
        # tasks'. Started on demand, it takes none of their memory.
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        _start_up()
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            from keras_dbal.saving.checkpoint import CheckpointWarning
            from keras_dbal.tools.label_files import LabelFileWarning

            for category in (CheckpointWarning, LabelFileWarning):
                # What a person must read, whatever filters are set.
                warnings.filterwarnings("always", category=category)
            return args.handler(args)
    except ValueError as error:  # DataError, CheckpointError, ... too
        return _fail(in_option_terms(str(error), commands[args.command]))
    except OSError as error:  # a full disk, a read-only one, permissions
        return _fail(_describe_os_error(error))
    except KeyboardInterrupt:
        if args.command == "run":
            out = actions.run_folder(args)
            return _fail(
                "interrupted; the rounds that finished are saved in "
                f"{out}: continue with the same command and --resume {out}.",
                130,
            )
        return _fail("interrupted; what was saved before is intact.", 130)


def _start_up():
    """Start the backend and import the commands' modules, their notes
    filtered; Ctrl-C meanwhile is heard and raised once it is done (raised
    inside an import, it leaves a traceback or is lost in a callback)."""
    with deferred_interrupt(), _quiet.start_up_notes_dropped():
        _quiet.start_backend_quietly()
        import keras_dbal.experiments.runner  # noqa: F401
        import keras_dbal.tools.labelling  # noqa: F401


def in_option_terms(message, command):
    """`message` with the library's argument names (`argument `n``) told
    as the options the user typed (`--n`)."""
    options = {
        action.dest: action.option_strings[-1]
        for action in command._actions
        if action.option_strings
    }

    def option(match):
        flag = options.get(match.group(1))
        return f"option {flag}" if flag else match.group(0)

    message = re.sub(r"argument `(\w+)`", option, message)
    # `name=value` as the user would type it, but not a Python flag's
    # `partial=True`, which the command spells `--partial`.
    return re.sub(
        r"\b(\w+)=(?!True\b|False\b)",
        lambda match: f"{options[match.group(1)]}="
        if match.group(1) in options else match.group(0),
        message,
    )


def _fail(message, status=2):
    print(f"keras-dbal: error: {message}", file=sys.stderr)
    return status


def _describe_os_error(error):
    where = f" ({error.filename})" if error.filename else ""
    return (
        f"{error.strerror or error}{where}. Nothing half-written was kept: "
        "fix that and run the same command again."
    )


def _show_warning(message, category, filename, lineno, file=None,
                  line=None):
    print(f"keras-dbal: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
