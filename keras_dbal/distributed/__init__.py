"""Experiments beyond one process, on Ray (`pip install "keras-dbal[ray]"`).

Nothing here imports Ray until it is used: `import keras_dbal` and the CLI
work without it, and asking for it without the extra says how to install
it (`ray_support.require_ray`).

- `studies`: an experiment's runs as Ray tasks, one per seed, each
  resuming from its last finished round when its worker dies or the
  driver is restarted (`run_experiment(..., ray="auto")`,
  `keras-dbal run --ray auto`).
"""
