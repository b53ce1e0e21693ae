"""Experiments and pools beyond one process, on Ray
(`pip install "keras-dbal[ray]"`).

Nothing here imports Ray until it is used: `import keras_dbal` and the CLI
work without it, and asking for it without the extra says how to install
it (`ray_support.require_ray`).

- `studies`: an experiment's runs as Ray tasks, one per seed, each
  resuming from its last finished round when its worker dies or the
  driver is restarted (`run_experiment(..., ray="auto")`,
  `keras-dbal run --ray auto`).
- `scoring`: a pool held as a Ray Dataset, scored by an actor pool, its
  top n merged (`top_n_on_ray`, `pool_dataset`), the chosen images
  fetched (`images_at`).
- `batch_selection`: BatchBALD over such a pool, its BALD pre-selection
  on the actor pool (`batchbald_on_ray`).
"""

from keras_dbal.distributed.batch_selection import batchbald_on_ray
from keras_dbal.distributed.scoring import images_at
from keras_dbal.distributed.scoring import pool_dataset
from keras_dbal.distributed.scoring import top_n_on_ray
from keras_dbal.distributed.studies import LostWorkerError

__all__ = [
    "LostWorkerError", "batchbald_on_ray", "images_at", "pool_dataset",
    "top_n_on_ray",
]
