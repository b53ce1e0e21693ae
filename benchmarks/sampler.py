"""Throughput of Monte Carlo dropout scoring on the Gal et al. CNN.

Run (from the repository root, any Keras backend keras_dbal supports):

    python -m benchmarks.sampler                       # the issue's grid
    python -m benchmarks.sampler --sizes 2000 --samples 20
    KERAS_BACKEND=jax python -m benchmarks.sampler --sizes 1000000 \\
        --samples 20 100 --methods sampler --chunk-size 4096   # GPU

Each case scores a pool of N random 28x28x1 images with BALD over T
stochastic passes of `keras_dbal.gal_cnn()` (paper variant) and takes the
top 10. Cases, one function each:

- `naive`: the plain Keras way, `model.predict` called T times with
  MCDropout on, then BALD on the stacked `(T, N, C)` array;
- `full_passes`: one compiled function (`tf.function` / `jax.jit`) per
  chunk that runs the whole model T times in a loop, with a running top-n;
  it draws the very masks the sampler draws, so it reaches inside
  keras_dbal (`keras_dbal.backend`, `keras_dbal.layers.mask_scope`,
  `keras_dbal.sampling.masks`): the one benchmark that does, by design
  (tests/test_benchmarks.py keeps the others on the public API);
- `sampler`: `keras_dbal.MCSampler`, which runs the convolutions once per
  chunk and the stochastic dense head T times on a folded batch.

Columns: `seconds` (wall clock, median of `--repeats` runs after one
warm-up that also compiles), `images/s` (N / seconds), `speed-up` (the
naive case's seconds / this case's, same N and T, same run), and
`peak MiB`: on CPU the rise of the process's resident memory during the
case over its level before it; on a JAX GPU the device's peak bytes in use
*so far in the process* (JAX cannot reset that counter), so there a row
shows the largest of itself and the rows above it.
Timings are not assertions: they are printed, and written as JSON with
`--json`.
"""

import argparse
import json
import os
import platform
import statistics
import threading
import time

import keras
import numpy as np

import keras_dbal
from keras_dbal import acquisition
from keras_dbal import backend

# The baseline `full_passes` is built from the sampler's internal parts.
from keras_dbal.layers.mask_scope import MaskScope
from keras_dbal.sampling.masks import masker

QUERY_SIZE = 10


def naive(model, pool, num_samples, chunk_size):
    """`model.predict` T times, then BALD on the whole `(T, N, C)` array."""
    probs = np.stack(
        [
            model.predict(pool, batch_size=chunk_size, verbose=0)
            for _ in range(num_samples)
        ]
    )
    scores = keras.ops.convert_to_numpy(acquisition.bald(probs))
    return np.argsort(-scores)[:QUERY_SIZE]


def full_passes(model, pool, num_samples, chunk_size):
    """A compiled loop of T whole-model passes per chunk, running top-n."""
    sampler = _full_pass_sampler(model, num_samples, chunk_size)
    return sampler.top_n(pool, acquisition.bald, QUERY_SIZE, seed=0)[0]


def sampler(model, pool, num_samples, chunk_size):
    """`keras_dbal.MCSampler`: prefix once, folded stochastic suffix."""
    mc_sampler = _cached(
        ("sampler", id(model), num_samples, chunk_size),
        lambda: keras_dbal.MCSampler(
            model, num_samples, chunk_size=chunk_size, seed=0
        ),
    )
    return mc_sampler.top_n(pool, acquisition.bald, QUERY_SIZE)[0]


METHODS = {"naive": naive, "full_passes": full_passes, "sampler": sampler}
_CACHE = {}


def _cached(key, build):
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


def _full_pass_sampler(model, num_samples, chunk_size):
    def build():
        return _FullPasses(model, num_samples, chunk_size)

    return _cached(("loop", id(model), num_samples, chunk_size), build)


class _FullPasses:
    """T unfolded whole-model passes per chunk, each with its own masks.

    Built from the sampler's internal parts (the mask scope and masks) so
    that it draws masks exactly as `MCSampler` does and differs from it
    only in running the whole model T times instead of folding.
    """

    def __init__(self, model, num_samples, chunk_size):
        self.model = model
        self.num_samples = num_samples
        self.chunk_size = chunk_size
        self.function = backend.compile_function(
            self._scores, model.variables
        )

    def _scores(self, images, seed):
        passes = []
        for sample in range(self.num_samples):
            layer_masks = masker(
                backend.fold_in(seed, 1000 + sample), 1, images.shape[0]
            )
            with MaskScope(layer_masks):
                passes.append(self.model(images, training=False))
        return acquisition.bald(keras.ops.stack(passes))

    def top_n(self, pool, acquisition_fn, n, seed=0):
        """Chunked like `MCSampler` (a pool smaller than a chunk padded to
        the next power of two, the next chunk dispatched before the last
        result is fetched), so the two differ only in the forward pass."""
        del acquisition_fn  # always BALD, compiled in
        size = self.chunk_size
        if len(pool) < size:
            size = 1 << max(len(pool) - 1, 0).bit_length()
        scores, pending = [], None
        for start in range(0, len(pool), size):
            chunk = pool[start:start + size]
            count = len(chunk)
            if count < size:
                padding = np.zeros((size - count,) + chunk.shape[1:],
                                   chunk.dtype)
                chunk = np.concatenate([chunk, padding])
            chunk_seed = np.array([seed, start], dtype="int32")
            result = self.function(chunk, chunk_seed)
            if pending is not None:
                scores.append(keras.ops.convert_to_numpy(pending[0])
                              [:pending[1]])
            pending = (result, count)
        scores.append(keras.ops.convert_to_numpy(pending[0])[:pending[1]])
        scores = np.concatenate(scores)
        order = np.argsort(-scores, kind="stable")[:n]
        return order, scores[order]


class _PeakMemory:
    """Peak resident memory (CPU) or device bytes in use (JAX GPU)."""

    def __init__(self):
        self.device = _jax_gpu()

    def __enter__(self):
        self.baseline = self._read()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._read())

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._read())

    @property
    def mebibytes(self):
        if self.device is not None:
            stats = self.device.memory_stats() or {}
            return stats.get("peak_bytes_in_use", 0) / 2**20
        return (self.peak - self.baseline) / 2**20

    def _read(self):
        if self.device is not None:
            return 0
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


def _jax_gpu():
    if backend.name() != "jax":
        return None
    import jax

    devices = [d for d in jax.devices() if d.platform == "gpu"]
    return devices[0] if devices else None


def describe_machine():
    """Backend, device and CPU of this run, in words."""
    device = "CPU"
    if backend.name() == "jax":
        import jax

        device = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    elif backend.name() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        device = f"{len(gpus)} GPU(s)" if gpus else "CPU"
    cpu = platform.processor() or platform.machine()
    return {
        "backend": backend.name(),
        "keras": keras.__version__,
        "device": device,
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "python": platform.python_version(),
    }


def make_pool(size, seed=0):
    """Random uint8 images: timing does not depend on what they show."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, 28, 28, 1), dtype=np.uint8)


def run_case(method, model, pool, num_samples, chunk_size, repeats):
    function = METHODS[method]
    function(model, pool[: min(len(pool), chunk_size)], num_samples,
             chunk_size)
    seconds = []
    with _PeakMemory() as memory:
        for _ in range(repeats):
            start = time.perf_counter()
            function(model, pool, num_samples, chunk_size)
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), memory.mebibytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--samples", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        choices=list(METHODS))
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="pool images per call (default: 8192 // T, "
                        "min 16)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    machine = describe_machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn(seed=0)
    pool_all = make_pool(max(args.sizes))
    rows = []
    print("| N | T | method | seconds | images/s | speed-up | peak MiB |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for size in args.sizes:
        pool = pool_all[:size]
        for num_samples in args.samples:
            chunk_size = args.chunk_size or max(16, 8192 // num_samples)
            baseline = None
            for method in args.methods:
                seconds, peak = run_case(
                    method, model, pool, num_samples, chunk_size,
                    args.repeats,
                )
                if method == "naive":
                    baseline = seconds
                speedup = baseline / seconds if baseline else float("nan")
                row = {
                    "N": size, "T": num_samples, "method": method,
                    "chunk_size": chunk_size, "seconds": seconds,
                    "images_per_second": size / seconds,
                    "speedup_vs_naive": speedup, "peak_mib": peak,
                }
                rows.append(row)
                print(
                    f"| {size} | {num_samples} | {method} | {seconds:.2f} | "
                    f"{size / seconds:,.0f} | "
                    f"{'-' if baseline is None else f'{speedup:.1f}x'} | "
                    f"{peak:,.0f} |",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"machine": machine, "rows": rows}, file, indent=1)


if __name__ == "__main__":
    main()
