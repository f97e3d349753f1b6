"""Where per-file work runs: the local process pool, or Ray tasks on one machine or a cluster.

The pipelines keep one writer in the CLI process; an executor only decides where the pure,
database-read-only per-file function runs. ``vigil.jobs.ray_executor`` imports Ray lazily, so
Vigil works without it.
"""
