"""Deep ensembles vs MC dropout (Beluch et al., 2018), same label budget.

Run (from the repository root):

    python -m benchmarks.ensembles --data ../shared/data/mnist_10k.npz
    python -m benchmarks.ensembles --data ... --rounds 10 --seeds 0

Every run starts from 20 balanced labels and acquires 10 images a round,
retraining from scratch each round (Adam, `--epochs` 50 of batch 128,
weight decay 3.5 / N: the protocol of Gal et al., 2017), on one of two
models:

- the Bayesian CNN, scored with T = `--mc-samples` (20) MC dropout passes;
- a deep ensemble of K = `--members` (5) deterministic twins of it, each
  initialised from its own seed, scored with one pass per member (K
  samples).

Each model acquires with BALD and at random; random acquisition on each
model separates what the model gains from what its acquisitions gain.
Beluch et al. found ensembles ahead of MC dropout, more so on harder
data. `--pool-subset` (2,000) random pool images are scored per round, as
in the authors' code.

Results go to `benchmarks/results/ensembles-<device>-<backend>/`:
`results.json` (every curve), `table.md` (accuracy at a few label counts,
labels needed to reach `--targets`, per seed and for the mean curve) and
`curves.png`. The first two are rewritten after every round, and Ctrl-C
keeps, tables and plots the rounds that finished.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from benchmarks.gal2017 import device_label
from benchmarks.rounds import run_keeping_rounds
from benchmarks.rounds import write_files
from keras_dbal import experiments as experiment
from keras_dbal.datasets import load_dataset


def table(results, targets, header):
    """Accuracy at the last count and labels to each target, per curve."""
    lines = [
        header, "",
        "| model | acquisition | "
        + " | ".join(f"labels to {t:.0%} (per seed; mean curve)"
                     for t in targets)
        + " | final accuracy |",
        "|---|---|" + "---|" * len(targets) + "---:|",
    ]
    for label, curve in experiment.summarize(results).items():
        runs = [r for r in results if _curve_of(r) == label]
        cells = []
        for target in targets:
            per_seed = [
                experiment.labels_to_reach(
                    r["num_labelled"], r["error"], 1 - target
                ) for r in runs
            ]
            mean = experiment.labels_to_reach(
                curve["num_labelled"], curve["error_mean"], 1 - target
            )
            cells.append(
                ", ".join(str(v) if v else "-" for v in per_seed)
                + f"; {mean or '-'}"
            )
        final = [1 - r["error"][-1] for r in runs]
        lines.append(
            f"| {_model(runs[0])} | {runs[0]['acquisition']} | "
            + " | ".join(cells)
            + f" | {np.mean(final):.3f} ± {np.std(final):.3f} |"
        )
    return "\n".join(lines) + "\n"


def _curve_of(result):
    """The key `summarize` files a result under."""
    return experiment.curve_name(result["acquisition"], result["model"])


def _model(result):
    return {"bayesian": "MC dropout", "ensemble": "ensemble"}[
        result["model"]
    ]


def plot(results, path, title):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=100)
    colours = {"bald": "tab:blue", "random": "tab:grey"}
    for label, curve in experiment.summarize(results).items():
        run = next(r for r in results if _curve_of(r) == label)
        counts = np.asarray(curve["num_labelled"])
        accuracy = 1 - np.asarray(curve["error_mean"])
        spread = np.asarray(curve["error_std"])
        colour = colours.get(run["acquisition"])
        style = "-" if run["model"] == "ensemble" else "--"
        axes.plot(counts, accuracy, style, color=colour,
                  label=f"{run['acquisition']}, {_model(run)}")
        axes.fill_between(counts, accuracy - spread, accuracy + spread,
                          color=colour, alpha=0.12)
    axes.set_xlabel("Number of labelled images")
    axes.set_ylabel("Test accuracy")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True,
                        help="local .npz with the keys of Keras's mnist.npz")
    parser.add_argument("--members", type=int, default=5,
                        help="K, members of each ensemble")
    parser.add_argument("--mc-samples", type=int, default=20,
                        help="T of the MC dropout CNN")
    parser.add_argument("--acquisitions", nargs="+",
                        default=["bald", "random"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--pool-subset", type=int, default=2000)
    parser.add_argument("--targets", type=float, nargs="+",
                        default=[0.85, 0.90])
    parser.add_argument("--out", help="results root (default: "
                        "benchmarks/results)")
    args = parser.parse_args(argv)

    data = load_dataset("file", path=args.data)
    (x_train, _), (x_test, _) = data
    config = experiment.ExperimentConfig(
        acquisitions=tuple(args.acquisitions),
        ensembles=tuple(args.acquisitions), ensemble_size=args.members,
        seeds=tuple(args.seeds), rounds=args.rounds, query_size=10,
        mc_samples=args.mc_samples, epochs=args.epochs, batch_size=128,
        pool_subset=args.pool_subset,
    )
    device, backend_name = device_label()
    out_root = args.out or os.path.join(os.path.dirname(__file__), "results")
    out = os.path.join(out_root, f"ensembles-{device}-{backend_name}")
    os.makedirs(out, exist_ok=True)
    print(f"Ensembles (K = {args.members}) vs MC dropout (T = "
          f"{args.mc_samples}): {len(x_train)} pool / {len(x_test)} test "
          f"images; results go to {out}", flush=True)
    start = time.perf_counter()

    def header(results):
        rounds_done = len(results[0]["num_labelled"]) - 1
        return (
            f"{os.path.basename(args.data)}: {len(x_train)} pool / "
            f"{len(x_test)} test images, seeds {args.seeds}, {rounds_done} "
            f"of {args.rounds} rounds of 10 from 20 labels, {args.epochs} "
            f"epochs of batch 128, {args.pool_subset} pool images scored "
            f"per round; MC dropout T = {args.mc_samples}, ensembles of "
            f"K = {args.members}; Keras backend {backend_name} on {device} "
            f"({platform.machine()}, {os.cpu_count()} cores), "
            f"{(time.perf_counter() - start) / 60:.1f} minutes."
        )

    def write(results):
        record = {"args": vars(args),
                  "seconds": time.perf_counter() - start, "runs": results}
        write_files(out, (
            ("table.md", table(results, args.targets, header(results))),
            ("results.json", json.dumps(record, indent=1)),
        ))

    results = run_keeping_rounds(data, config, write)
    plot(results, os.path.join(out, "curves.png"),
         f"Ensembles (K = {args.members}) vs MC dropout "
         f"(T = {args.mc_samples}), {os.path.basename(args.data)}")
    with open(os.path.join(out, "table.md")) as file:
        print(file.read())
    return out


if __name__ == "__main__":
    main()
