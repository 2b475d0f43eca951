"""Running: experiment files, units, the runner and its executors, threads, tracking, sweeps, runtime, result
rows, scoring and the paper pipeline."""
