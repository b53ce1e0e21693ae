"""What each `keras-dbal` command does and prints, once its arguments
are parsed (`keras_dbal.tools.cli` parses them and reports errors).

Each command imports what it needs when it runs: this module, like the
parser, starts no Keras backend when it is imported.
"""

import os

from keras_dbal.experiments.config import ExperimentConfig
from keras_dbal.tools.plotting import METRICS

__all__ = ["init", "query", "run", "status", "teach"]


def init(args):
    from keras_dbal import datasets
    from keras_dbal.tools import labelling
    from keras_dbal.tools.wording import count

    path, names = args.pool, None
    if not os.path.exists(path):
        raise ValueError(
            f"--pool {path}: no such file or folder. Give an .npz file or a "
            "folder of images."
        )
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
    print(f"Labelling session in {args.state}: "
          f"{count(len(images), 'image')}. Next: keras-dbal query --state "
          f"{args.state}")
    return 0


def query(args):
    from keras_dbal.tools import labelling
    from keras_dbal.tools.wording import count

    before = labelling.pending_round(args.state)
    path = labelling.query_session(args.state, args.n)
    status = labelling.session_status(args.state)
    if before is not None and before["round"] == status["waiting_round"]:
        print(f"Round {status['waiting_round']} is still waiting for labels: "
              f"{status['waiting_images']} of its "
              f"{count(status['round_images'], 'image')} in {path}; it was "
              "left as it is.")
    sheet = os.path.join(os.path.dirname(path), "contact_sheet.png")
    print(f"Label the images of {sheet} in the label column of {path}, then "
          f"run: keras-dbal teach --state {args.state} {path}")
    return 0


def teach(args):
    from keras_dbal.tools import labelling
    from keras_dbal.tools.wording import count

    try:
        before = labelling.session_status(args.state)["labelled"]
    except ValueError:
        before = None  # a damaged session.json: teach mends or explains
    labelling.teach_session(args.state, args.labels, partial=args.partial)
    status = labelling.session_status(args.state)
    labelled = (
        f"{count(status['labelled'], 'image')} "
        f"{'is' if status['labelled'] == 1 else 'are'} labelled"
    )
    if before is not None and status["labelled"] == before:
        print(f"Nothing new was taught: every labelled row of {args.labels} "
              f"was taught before; {labelled}.")
    elif before is not None:
        print(f"Taught {count(status['labelled'] - before, 'label')}; "
              f"{labelled}.")
    else:
        print(f"Taught; {labelled}.")
    if status["waiting_round"] is None:
        print(f"Next: keras-dbal query --state {args.state}")
    else:
        print(f"Round {status['waiting_round']} still waits for "
              f"{status['waiting_images']} of its "
              f"{count(status['round_images'], 'image')} in {args.labels}: "
              "fill them and run the same teach command again.")
    return 0


def status(args):
    from keras_dbal.tools import labelling
    from keras_dbal.tools.wording import count

    status = labelling.session_status(args.state)
    per_class = ", ".join(
        f"{label}: {number}"
        for label, number in enumerate(status["labels_per_class"])
    )
    print(f"{args.state}: {status['labelled']} of "
          f"{count(status['images'], 'image')} labelled ({per_class}).")
    if status["waiting_round"] is None:
        print(f"No round is waiting for labels. Next: keras-dbal query "
              f"--state {args.state}")
    else:
        print(f"Round {status['waiting_round']} is waiting for labels: "
              f"{status['waiting_images']} of its "
              f"{count(status['round_images'], 'image')} in "
              f"{status['waiting_csv']}.")
    print(f"Acquisition {status['acquisition']}, seed {status['seed']}.")
    return 0


def run_folder(args):
    """The folder `keras-dbal run` writes into: `--resume`'s, else `--out`
    (default `keras_dbal_results`); both, naming two folders, is an error."""
    if args.resume and args.out not in (None, args.resume):
        raise ValueError(
            f"--resume {args.resume} continues the experiment in that "
            f"folder, where its results go on; received --out {args.out} "
            "too. Give one of the two."
        )
    return args.resume or args.out or "keras_dbal_results"


def run(args):
    from keras_dbal import backend
    from keras_dbal import datasets
    from keras_dbal import experiments
    from keras_dbal.distributed import LostWorkerError
    from keras_dbal.experiments import state as experiment_state
    from keras_dbal.tools import results_files

    config = ExperimentConfig(
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
        equal_batches=args.equal_batches,
    )
    out = run_folder(args)
    if args.ray:
        from keras_dbal.distributed.ray_support import require_ray

        try:
            require_ray()
        except ModuleNotFoundError as error:
            raise ValueError(str(error)) from None
    results_files.check_writable(out)
    if args.resume and not args.ray and experiment_state.read(out) is None:
        print(f"Nothing to continue in {out} yet: the experiment starts "
              "there.")
    data = datasets.load_dataset(args.dataset, path=args.data)
    config.check_data(data[0][1])
    name = os.path.basename(args.data) if args.data else args.dataset
    print(
        f"keras-dbal run: {name}, {len(data[0][0])} pool / "
        f"{len(data[1][0])} test images, {args.rounds} "
        f"round{'' if args.rounds == 1 else 's'} of "
        f"{args.query_size}, seeds {list(config.seeds)}, Keras backend "
        f"{backend.name()}; results and the state to continue from go to "
        f"{out}/ after every round"
    )

    def save(results):
        results_files.write(out, name, config, results, args.metric)

    try:
        results = experiments.run_experiment(
            data, config, progress=not args.quiet, on_result=save,
            state_dir=out, afresh=not args.resume, ray=args.ray,
        )
    except LostWorkerError as error:  # on Ray
        raise ValueError(f"{error} (--resume {out})") from None
    except experiments.UnfinishedExperimentError as error:
        raise ValueError(
            f"{out} holds an unfinished experiment ({error.rounds_done} of "
            f"{error.rounds} rounds done). Continue it with --resume {out}, "
            "or choose another --out."
        ) from None
    summary = experiments.summarize(results)
    key, axis_label = METRICS[args.metric]
    print(f"\nFinal {axis_label.lower()} (mean over seeds):")
    for label, curve in summary.items():
        value = curve[f"{key}_mean"][-1]
        print(
            f"  {label:<28} {1 - value if key == 'error' else value:.3f} "
            f"with {curve['num_labelled'][-1]} labels"
        )
    plot_path = os.path.join(out, "learning_curve.png")
    print(f"Wrote {plot_path}, results.csv and results.json")
    return 0
