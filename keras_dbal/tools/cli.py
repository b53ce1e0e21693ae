"""The `keras-dbal` command.

`keras-dbal run` runs a simulated experiment in the protocol of Gal et al.
(2017) and writes a learning-curve PNG, a CSV and a JSON file. With no
arguments it needs no network: it uses the digits embedded in scikit-learn.
"""

import argparse
import csv
import inspect
import json
import math
import os
import sys
import tempfile
import warnings

from keras_dbal import backend
from keras_dbal import batch_acquisition
from keras_dbal import datasets
from keras_dbal.active import experiment
from keras_dbal.saving.atomic import replacing
from keras_dbal.saving.checkpoint import CheckpointWarning
from keras_dbal.tools import labelling
from keras_dbal.tools import plotting
from keras_dbal.tools.label_files import LabelFileWarning
from keras_dbal.version import __version__


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, found {text!r}"
        )
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive number, found {text!r}"
        )
    return value


def _parser():
    # One source of defaults: the experiment runner's, and init_session's.
    defaults = experiment.ExperimentConfig()
    session = {
        name: parameter.default
        for name, parameter in inspect.signature(
            labelling.init_session
        ).parameters.items()
    }
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
    run.add_argument(
        "--acquisition", nargs="+", default=list(defaults.acquisitions),
        metavar="NAME",
        help="acquisition functions to compare, from: "
        + ", ".join(batch_acquisition.all_names())
        + f" (default: {' '.join(defaults.acquisitions)})",
    )
    run.add_argument(
        "--deterministic", nargs="*", default=list(defaults.deterministic),
        metavar="NAME",
        help="acquisition functions also run on the deterministic twin CNN",
    )
    run.add_argument(
        "--ensemble", nargs="*", default=list(defaults.ensembles),
        metavar="NAME",
        help="acquisition functions also run on a deep ensemble of "
        "--ensemble-size deterministic twins",
    )
    for flag, name, text in (
        ("--rounds", "rounds", "acquisition rounds"),
        ("--query-size", "query_size", "images acquired per round"),
        ("--mc-samples", "mc_samples", "MC dropout samples T"),
        ("--initial-per-class", "initial_per_class",
         "initial labels per class"),
        # Why these two differ from the paper: see ExperimentConfig.
        ("--epochs", "epochs", "training epochs per round"),
        ("--batch-size", "batch_size", "training batch size"),
        ("--pool-subset", "pool_subset",
         "random pool images scored per round"),
        ("--ensemble-size", "ensemble_size", "members of each --ensemble"),
    ):
        default = getattr(defaults, name)
        run.add_argument(flag, type=_positive_int, default=default,
                         help=f"{text} (default: {default})")
    run.add_argument(
        "--seed", type=int, nargs="+", default=list(defaults.seeds),
        help="one run per seed (default: "
        + " ".join(str(seed) for seed in defaults.seeds) + ")",
    )
    run.add_argument("--dataset", default="digits",
                     choices=datasets.DATASETS,
                     help="digits is embedded; mnist and fashion_mnist "
                     "download through keras.datasets (default: digits)")
    run.add_argument("--data", metavar="FILE.npz",
                     help="local data file with keys x_train y_train x_test "
                     "y_test, as Keras's mnist.npz")
    run.add_argument("--out", default="keras_dbal_results",
                     help="output folder (default: keras_dbal_results)")
    run.add_argument("--metric", default="accuracy",
                     choices=sorted(plotting.METRICS),
                     help="test metric of the plot; auc and "
                     "balanced_accuracy suit imbalanced classes (default: "
                     "accuracy)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bars")
    init = commands.add_parser(
        "init",
        help="start a labelling session on a pool of images",
        description="Create a state directory with the pool and a Bayesian "
        "CNN, ready for `keras-dbal query`.",
    )
    init.add_argument("--state", required=True, metavar="DIR")
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
    init.add_argument("--num-classes", type=_positive_int, required=True)
    init.add_argument("--max-value", type=_positive_float,
                      help="pixel value that means white (default: 255 for "
                      "integer images, 1 for floats)")
    init.add_argument("--acquisition", default=session["acquisition"])
    for flag, name in (("--mc-samples", "mc_samples"),
                       ("--epochs", "epochs"),
                       ("--batch-size", "batch_size")):
        init.add_argument(flag, type=_positive_int, default=session[name],
                          help=f"(default: {session[name]})")
    init.add_argument("--seed", type=int, default=session["seed"])
    query = commands.add_parser(
        "query",
        help="choose images to label; write a contact sheet and a CSV",
    )
    query.add_argument("--state", required=True, metavar="DIR")
    query.add_argument("--n", type=_positive_int, default=10,
                       help="images to label (default: 10)")
    teach = commands.add_parser(
        "teach", help="teach the labels of a filled CSV and refit"
    )
    teach.add_argument("--state", required=True, metavar="DIR")
    teach.add_argument("labels", metavar="LABELS.csv")
    teach.add_argument("--partial", action="store_true",
                       help="teach the rows that have labels and keep the "
                       "rest of the round waiting")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    commands = {"run": _run, "init": _init, "query": _query,
                "teach": _teach}
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            for category in (CheckpointWarning, LabelFileWarning):
                # What a person must read, whatever filters are set.
                warnings.filterwarnings("always", category=category)
            return commands[args.command](args)
    except ValueError as error:  # DataError, CheckpointError, ... too
        return _fail(error)
    except OSError as error:  # a full disk, a read-only one, permissions
        return _fail(_describe_os_error(error))
    except KeyboardInterrupt:
        return _fail("interrupted; what was saved before is intact.", 130)


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


def _init(args):
    path, names = args.pool, None
    source = f"{os.path.abspath(path)}:{args.key}"
    if os.path.isdir(path):
        folder = datasets.load_image_folder(
            path, labels=None, image_size=args.image_size,
            color_mode=args.color_mode,
        )
        images, names = folder.images, folder.file_names
        source = os.path.abspath(path)
    else:
        images = datasets.load_npz_array(path, args.key)
    labelling.init_session(
        args.state, images, args.num_classes,
        acquisition=args.acquisition, mc_samples=args.mc_samples,
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        source=source, max_value=args.max_value, names=names,
    )
    print(f"Labelling session in {args.state}: {len(images)} images. "
          f"Next: keras-dbal query --state {args.state}")
    return 0


def _query(args):
    waiting = labelling.pending_round(args.state)
    path = labelling.query_session(args.state, args.n)
    folder = os.path.dirname(path)
    if waiting is not None and waiting == labelling.pending_round(args.state):
        print(f"Round {waiting['round']} is still waiting for labels "
              f"({len(waiting['indices'])} images); {path} was left as it "
              "is.")
    print(f"Label the images of {os.path.join(folder, 'contact_sheet.png')} "
          f"in the label column of {path}, then run: keras-dbal teach "
          f"--state {args.state} {path}")
    return 0


def _teach(args):
    learner = labelling.teach_session(
        args.state, args.labels, partial=args.partial
    )
    waiting = labelling.pending_round(args.state)
    if waiting is None:
        print(f"Taught; {learner.num_labelled} images are labelled. Next: "
              f"keras-dbal query --state {args.state}")
    else:
        print(f"Taught; {learner.num_labelled} images are labelled. Round "
              f"{waiting['round']} still waits for the labels of the other "
              f"images in {args.labels}: fill them and run the same teach "
              "command again.")
    return 0


def _run(args):
    config = experiment.ExperimentConfig(
        acquisitions=args.acquisition,
        deterministic=args.deterministic,
        ensembles=args.ensemble,
        ensemble_size=args.ensemble_size,
        seeds=args.seed,
        rounds=args.rounds,
        query_size=args.query_size,
        initial_per_class=args.initial_per_class,
        mc_samples=args.mc_samples,
        epochs=args.epochs,
        batch_size=args.batch_size,
        pool_subset=args.pool_subset,
    )
    _check_writable(args.out)
    data = datasets.load_dataset(args.dataset, path=args.data)
    config.check_data(data[0][1])
    name = os.path.basename(args.data) if args.data else args.dataset
    print(
        f"keras-dbal run: {name}, {len(data[0][0])} pool / "
        f"{len(data[1][0])} test images, {args.rounds} rounds of "
        f"{args.query_size}, seeds {list(config.seeds)}, Keras backend "
        f"{backend.name()}; results go to {args.out}/ after every "
        "round"
    )

    def save(results):
        return _write_results(args.out, name, config, results, args.metric)

    results = experiment.run_experiment(
        data, config, progress=not args.quiet, on_result=save
    )
    summary = experiment.summarize(results)
    key, axis_label = plotting.METRICS[args.metric]
    print(f"\nFinal {axis_label.lower()} (mean over seeds):")
    for label, curve in summary.items():
        value = curve[f"{key}_mean"][-1]
        print(
            f"  {label:<28} {1 - value if key == 'error' else value:.3f} "
            f"with {curve['num_labelled'][-1]} labels"
        )
    plot_path = os.path.join(args.out, "learning_curve.png")
    print(f"Wrote {plot_path}, results.csv and results.json")
    return 0


def _check_writable(folder):
    """Fail before hours of compute, not after them."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(
            f"Cannot write results into --out {folder}: "
            f"{error.strerror or error}."
        ) from None


def _write_results(folder, name, config, results, metric="accuracy"):
    """results.json, results.csv and the plot of the rounds run so far.

    Each file is replaced whole, so a crash leaves the previous version.
    """
    summary = experiment.summarize(results)
    planned = len(config.runs()) * len(config.seeds)
    record = {
        "dataset": name,
        "backend": backend.name(),
        "config": vars(config),
        "complete": len(results) == planned and all(
            len(result["num_labelled"]) == config.rounds + 1
            for result in results
        ),
        "runs": results,
        "summary": summary,
    }
    with replacing(os.path.join(folder, "results.json")) as file:
        # NaN (an AUC the test labels cannot define) as null: valid JSON.
        json.dump(_null_for_nan(record), file, indent=1)
    with replacing(os.path.join(folder, "results.csv")) as file:
        writer = csv.writer(file)
        writer.writerow(
            ["acquisition", "bayesian", "seed", "num_labelled", "accuracy",
             "balanced_accuracy", "auc", "model"]
        )
        for result in results:
            for count, *values in zip(
                result["num_labelled"], result["accuracy"],
                result["balanced_accuracy"], result["auc"], strict=True
            ):
                writer.writerow(
                    [result["acquisition"], result["bayesian"],
                     result["seed"], count]
                    + [f"{value:.4f}" for value in values]
                    + [result["model"]]
                )
    title = f"{name}: {config.query_size} acquired per round"
    if not record["complete"]:
        done = min(len(result["num_labelled"]) for result in results) - 1
        title += f" ({done} of {config.rounds} rounds so far)"
    with replacing(os.path.join(folder, "learning_curve.png"), "wb") as file:
        plotting.plot_learning_curves(
            summary, file, title=title, metric=metric
        )


def _null_for_nan(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _null_for_nan(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_null_for_nan(item) for item in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
