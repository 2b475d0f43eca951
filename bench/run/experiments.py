"""Experiment files: TOML descriptions of what to run, shipped in ``bench/run/experiments/`` and written by users in
the same form.

```toml
title = "Table II: Human3.6M protocols 1 and 2"
kind = "accuracy"                         # optional: "accuracy" (train and score, default) or "runtime" (time)
seeds = [0]                               # optional, default [0]: the training seeds (the methods')
data_seed = 0                             # optional, default 0: the seed every dataset is loaded / generated with
stopping = "on"                           # optional: the training-length rule (bench.run.validation), "off" or
                                          # "patience=5,min_delta_mm=0.2,val_limit=128"; default "on"

[[group]]                                 # one or more: methods x datasets, trained on `train`
methods = ["proposed[projection=d2s]"]
datasets = ["h36m[protocol=p1]", "h36m[protocol=p2]"]
train = ["h36m[split=train]"]             # optional, default none (each method's own default)
limit = 256                               # optional: score at most this many samples per set
batch_size = 64                           # optional: prediction batch size
# runtime experiments: one dataset per group (the input samples), batch_sizes = [1, 64], repeats = 5

[quick]                                   # optional: what --quick changes
limit = 100
stopping = "off"                          # optional: the rule of the quick version (default: the file's)
[quick.params.proposed]                   # parameter overrides per method family
iterations = 300
```

Every key is checked: an unknown one is a ConfigError naming the key, where it is and the file. Every spec (the
methods, with the ``[quick]`` overrides applied, and the datasets) is checked when the file is loaded: its name,
its settings' names and each value's type, choices and range (``bench.settings``), the error naming the file and
the table; ``[quick.params.NAME]`` must name a method family of the file. Counts (``limit``, ``batch_size``,
``repeats``, ``batch_sizes``) are integers >= 1. ``stopping`` is parsed when the file is loaded
(``bench.run.validation.parse_stopping``); ``hmrbench run/paper --early-stop RULE`` overrides it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.method import format_spec, parse_spec
from bench.run.validation import parse_stopping

__all__ = ["Experiment", "Group", "load_experiment", "shipped_experiments"]

_TOP = {"title": str, "description": str, "kind": str, "seeds": list, "data_seed": int, "group": list,
        "quick": dict, "stopping": str}  # fmt: skip
_GROUP = {"methods": list, "datasets": list, "train": list, "limit": int, "batch_size": int, "batch_sizes": list,
          "repeats": int}  # fmt: skip
KINDS = ("accuracy", "runtime")
_QUICK = {"limit": int, "params": dict, "seeds": list, "stopping": str}


@dataclass(frozen=True)
class Group:
    methods: tuple[str, ...]
    datasets: tuple[str, ...]
    train: tuple[str, ...] = ()
    limit: int | None = None
    batch_size: int = 256
    variants: tuple[str, ...] = ()  # the method specs as written in the file (``methods`` after --quick overrides)
    batch_sizes: tuple[int, ...] = (1, 64)  # runtime experiments: batch sizes timed
    repeats: int = 5  # runtime experiments: timed calls per batch size (median reported)


@dataclass(frozen=True)
class Experiment:
    name: str
    path: Path
    title: str
    groups: tuple[Group, ...]
    seeds: tuple[int, ...] = (0,)
    description: str = ""
    quick: dict[str, Any] = field(default_factory=dict)
    kind: str = "accuracy"
    data_seed: int = 0  # the seed the datasets are loaded with; ``seeds`` are the training seeds
    stopping: str | None = None  # the training-length rule as written (None: the default, on)

    def quick_version(self) -> Experiment:
        """The experiment with its ``[quick]`` overrides applied (limit, seeds, parameters per method family),
        named ``NAME-quick``."""
        params: dict[str, dict[str, Any]] = self.quick.get("params", {})

        def method(spec: str) -> str:
            name, values = parse_spec(spec)
            return format_spec(name, {**values, **params.get(name, {})})

        limit = self.quick.get("limit")
        groups = tuple(
            Group(methods=tuple(method(m) for m in g.methods), datasets=g.datasets, train=g.train,
                  limit=g.limit if limit is None else (limit if g.limit is None else min(g.limit, limit)),
                  batch_size=g.batch_size, variants=g.variants or g.methods, batch_sizes=g.batch_sizes,
                  repeats=g.repeats)  # fmt: skip
            for g in self.groups
        )
        seeds = tuple(self.quick.get("seeds", self.seeds))
        # named NAME-quick: its rows and units never mix with the full experiment's in one table
        return Experiment(f"{self.name}-quick", self.path, f"{self.title} (quick)", groups, seeds, self.description,
                          {}, self.kind, self.data_seed, self.quick.get("stopping", self.stopping))  # fmt: skip


def _experiments_dir() -> Path:
    return Path(str(resources.files("bench.run") / "experiments"))


def shipped_experiments() -> dict[str, Path]:
    """Name -> path of the experiment files shipped with the package."""
    return {p.stem: p for p in sorted(_experiments_dir().glob("*.toml"))}


def _check_keys(table: dict, allowed: dict[str, type], where: str, path: Path) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"{path}: unknown key {key!r} in {where}; valid keys: {', '.join(allowed)}")
        expected = allowed[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{path}: {where} key {key!r} must be a {expected.__name__}, got {value!r}")


def _strings(values: list, key: str, where: str, path: Path) -> tuple[str, ...]:
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigError(f"{path}: {where} key {key!r} must be a non-empty list of specs, got {values!r}")
    return tuple(values)


def load_experiment(name_or_path: str | Path) -> Experiment:
    """A shipped experiment by name (``table2``) or a TOML file by path; every key checked (module docstring)."""
    shipped = shipped_experiments()
    path = Path(name_or_path)
    if str(name_or_path) in shipped:
        path = shipped[str(name_or_path)]
    elif not path.is_file():
        raise ConfigError(f"experiment {str(name_or_path)!r}: not a shipped experiment ({', '.join(shipped)}) "
                          "and not a file")  # fmt: skip
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the experiment file: {exc.strerror or exc}") from None
    _check_keys(data, _TOP, "the top level", path)
    if not data.get("group"):
        raise ConfigError(f"{path}: no [[group]] table: an experiment needs at least one group of methods x datasets")
    groups = []
    for i, table in enumerate(data["group"], 1):
        where = f"[[group]] {i}"
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {where} must be a table")
        _check_keys(table, _GROUP, where, path)
        for key in ("methods", "datasets"):
            if key not in table:
                raise ConfigError(f"{path}: {where} has no {key!r} list")
        for key in ("limit", "batch_size", "repeats"):
            if key in table and table[key] < 1:
                raise ConfigError(f"{path}: {where} key {key!r} must be an integer >= 1, got {table[key]!r}")
        sizes = table.get("batch_sizes", [1, 64])
        if not sizes or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in sizes):
            raise ConfigError(f"{path}: {where} key 'batch_sizes' must be a non-empty list of integers >= 1, "
                              f"got {sizes!r}")  # fmt: skip
        groups.append(Group(
            methods=_strings(table["methods"], "methods", where, path),
            datasets=_strings(table["datasets"], "datasets", where, path),
            train=tuple(table.get("train", ())) and _strings(table["train"], "train", where, path),
            limit=table.get("limit"), batch_size=table.get("batch_size", 256), batch_sizes=tuple(sizes),
            repeats=table.get("repeats", 5),
        ))  # fmt: skip
    quick = data.get("quick", {})
    _check_keys(quick, _QUICK, "[quick]", path)
    if quick.get("limit", 1) < 1:
        raise ConfigError(f"{path}: [quick] key 'limit' must be an integer >= 1, got {quick['limit']!r}")
    for family, values in quick.get("params", {}).items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [quick.params.{family}] must be a table of parameter = value")
    seeds = data.get("seeds", [0])
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"{path}: 'seeds' must be a non-empty list of integers, got {seeds!r}")
    data_seed = data.get("data_seed", 0)
    if data_seed < 0:
        raise ConfigError(f"{path}: 'data_seed' must be an integer >= 0, got {data_seed!r}")
    kind = data.get("kind", "accuracy")
    if kind not in KINDS:
        raise ConfigError(f"{path}: 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "runtime" and any(len(g.datasets) != 1 for g in groups):
        raise ConfigError(f"{path}: a runtime experiment's group takes one dataset (the input samples timed)")
    for where, table in (("the top level", data), ("[quick]", quick)):
        if "stopping" in table:
            try:
                parse_stopping(table["stopping"])
            except ConfigError as exc:
                raise ConfigError(f"{path}: {where} key 'stopping': {exc}") from None
    experiment = Experiment(name=path.stem, path=path, title=data.get("title", path.stem), groups=tuple(groups),
                            seeds=tuple(seeds), description=data.get("description", ""), quick=quick, kind=kind,
                            data_seed=data_seed, stopping=data.get("stopping"))  # fmt: skip
    _check_specs(experiment)
    return experiment


def _check_specs(experiment: Experiment) -> None:
    """Every spec of the file checked through the registry (names, settings, values typed by their declarations),
    the full and the ``--quick`` version, before anything is built or written; errors name the file and table."""
    from bench.registry import check_dataset_settings, check_method_spec

    path = experiment.path
    for i, group in enumerate(experiment.groups, 1):
        for spec in (*group.methods, *group.datasets, *group.train):
            try:
                parse_spec(spec)
            except ValueError as exc:  # a spec that is not name[key=value,...]
                raise ConfigError(f"{path}: [[group]] {i}: {exc}") from None
    families = {parse_spec(m)[0] for g in experiment.groups for m in g.methods}
    for family in experiment.quick.get("params", {}):
        if family not in families:
            raise ConfigError(f"{path}: [quick.params.{family}] names no method family of this file "
                              f"(its methods: {', '.join(sorted(families))})")  # fmt: skip
    for version in (experiment, experiment.quick_version()):
        for i, group in enumerate(version.groups, 1):
            where = f"[[group]] {i}" + (" with the [quick] overrides" if version is not experiment else "")
            try:
                for spec in group.methods:
                    check_method_spec(spec)
                for spec in (*group.datasets, *group.train):
                    name, settings = parse_spec(spec)
                    check_dataset_settings(name, settings)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {where}: {exc}") from None
