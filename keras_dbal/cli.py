"""The `keras-dbal` command.

`keras-dbal run` runs a simulated experiment in the protocol of Gal et al.
(2017) and writes a learning-curve PNG, a CSV and a JSON file. With no
arguments it needs no network: it uses the digits embedded in scikit-learn.
"""

import argparse
import csv
import json
import os
import sys

import keras_dbal

DEFAULT_ACQUISITIONS = ("bald", "random")


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-dbal",
        description="Deep Bayesian active learning for Keras 3.",
    )
    parser.add_argument(
        "--version", action="version", version=keras_dbal.__version__
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
        "--acquisition", nargs="+", default=list(DEFAULT_ACQUISITIONS),
        metavar="NAME",
        help="acquisition functions to compare, from: "
        + ", ".join(keras_dbal.acquisition.names())
        + " (default: bald random)",
    )
    run.add_argument(
        "--deterministic", nargs="*", default=[], metavar="NAME",
        help="acquisition functions also run on the deterministic twin CNN",
    )
    run.add_argument("--rounds", type=int, default=20,
                     help="acquisition rounds (default: 20)")
    run.add_argument("--query-size", type=int, default=10,
                     help="images acquired per round (default: 10)")
    run.add_argument("--mc-samples", type=int, default=20,
                     help="MC dropout samples T (default: 20)")
    run.add_argument("--initial-per-class", type=int, default=2,
                     help="initial labels per class (default: 2)")
    # The paper trains 50 epochs with batch size 128, a single gradient
    # step per epoch while fewer than 128 images are labelled. On the 8x8
    # digits that leaves the CNN so undertrained that BALD falls below
    # random (measured: 0.29 vs 0.83 accuracy at 220 labels, two seeds);
    # 100 epochs of batch 32 train it properly in about the same time.
    run.add_argument("--epochs", type=int, default=100,
                     help="training epochs per round (default: 100)")
    run.add_argument("--batch-size", type=int, default=32,
                     help="training batch size (default: 32)")
    run.add_argument("--pool-subset", type=int, default=2000,
                     help="random pool images scored per round "
                     "(default: 2000)")
    run.add_argument("--seed", type=int, nargs="+", default=[0, 1],
                     help="one run per seed (default: 0 1)")
    run.add_argument("--dataset", default="digits",
                     choices=keras_dbal.data.DATASETS,
                     help="digits is embedded; mnist and fashion_mnist "
                     "download through keras.datasets (default: digits)")
    run.add_argument("--data", metavar="FILE.npz",
                     help="local data file with keys x_train y_train x_test "
                     "y_test, as Keras's mnist.npz")
    run.add_argument("--out", default="keras_dbal_results",
                     help="output folder (default: keras_dbal_results)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bars")
    init = commands.add_parser(
        "init",
        help="start a labelling session on a pool of images",
        description="Create a state directory with the pool and a Bayesian "
        "CNN, ready for `keras-dbal query`.",
    )
    init.add_argument("--state", required=True, metavar="DIR")
    init.add_argument("--pool", required=True, metavar="FILE.npz",
                      help="images to label, under --key")
    init.add_argument("--key", default="x_train",
                      help="array of the .npz holding the images "
                      "(default: x_train)")
    init.add_argument("--num-classes", type=int, required=True)
    init.add_argument("--acquisition", default="bald")
    init.add_argument("--mc-samples", type=int, default=20)
    init.add_argument("--epochs", type=int, default=50)
    init.add_argument("--batch-size", type=int, default=128)
    init.add_argument("--seed", type=int, default=0)
    query = commands.add_parser(
        "query",
        help="choose images to label; write a contact sheet and a CSV",
    )
    query.add_argument("--state", required=True, metavar="DIR")
    query.add_argument("--n", type=int, default=10,
                       help="images to label (default: 10)")
    teach = commands.add_parser(
        "teach", help="teach the labels of a filled CSV and refit"
    )
    teach.add_argument("--state", required=True, metavar="DIR")
    teach.add_argument("labels", metavar="LABELS.csv")
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
        return commands[args.command](args)
    except ValueError as error:  # DataError, CheckpointError, ... too
        print(f"keras-dbal: error: {error}", file=sys.stderr)
        return 2


def _init(args):
    from keras_dbal import labelling

    path = args.pool
    images = keras_dbal.data.load_npz_array(path, args.key)
    labelling.init_session(
        args.state, images, args.num_classes,
        acquisition=args.acquisition, mc_samples=args.mc_samples,
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        source=f"{os.path.abspath(path)}:{args.key}",
    )
    print(f"Labelling session in {args.state}: {len(images)} images. "
          f"Next: keras-dbal query --state {args.state}")
    return 0


def _query(args):
    from keras_dbal import labelling

    path = labelling.query_session(args.state, args.n)
    folder = os.path.dirname(path)
    print(f"Label the images of {os.path.join(folder, 'contact_sheet.png')} "
          f"in the label column of {path}, then run: keras-dbal teach "
          f"--state {args.state} {path}")
    return 0


def _teach(args):
    from keras_dbal import labelling

    learner = labelling.teach_session(args.state, args.labels)
    print(f"Taught; {learner.num_labelled} images are labelled. Next: "
          f"keras-dbal query --state {args.state}")
    return 0


def _run(args):
    from keras_dbal import experiment
    from keras_dbal.plotting import plot_learning_curves

    config = experiment.ExperimentConfig(
        acquisitions=args.acquisition,
        deterministic=args.deterministic,
        seeds=args.seed,
        rounds=args.rounds,
        query_size=args.query_size,
        initial_per_class=args.initial_per_class,
        mc_samples=args.mc_samples,
        epochs=args.epochs,
        batch_size=args.batch_size,
        pool_subset=args.pool_subset,
    )
    data = keras_dbal.data.load_dataset(args.dataset, path=args.data)
    name = os.path.basename(args.data) if args.data else args.dataset
    print(
        f"keras-dbal run: {name}, {len(data[0][0])} pool / "
        f"{len(data[1][0])} test images, {args.rounds} rounds of "
        f"{args.query_size}, seeds {list(config.seeds)}, Keras backend "
        f"{keras_dbal.backend.name()}"
    )
    results = experiment.run_experiment(
        data, config, progress=not args.quiet
    )
    summary = experiment.summarize(results)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as file:
        json.dump(
            {
                "dataset": name,
                "backend": keras_dbal.backend.name(),
                "config": vars(config),
                "runs": results,
                "summary": summary,
            },
            file,
            indent=1,
        )
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["acquisition", "bayesian", "seed", "num_labelled", "accuracy"]
        )
        for result in results:
            for count, accuracy in zip(
                result["num_labelled"], result["accuracy"], strict=True
            ):
                writer.writerow(
                    [result["acquisition"], result["bayesian"],
                     result["seed"], count, f"{accuracy:.4f}"]
                )
    plot_path = os.path.join(args.out, "learning_curve.png")
    plot_learning_curves(
        summary, plot_path,
        title=f"{name}: {args.query_size} acquired per round",
    )
    print("\nFinal test accuracy (mean over seeds):")
    for label, curve in summary.items():
        print(
            f"  {label:<28} {1 - curve['error_mean'][-1]:.3f} with "
            f"{curve['num_labelled'][-1]} labels"
        )
    print(f"Wrote {plot_path}, results.csv and results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
