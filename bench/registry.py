"""Registry of datasets and methods: the one place `bench` reaches `datasets/` and `methods/`.

Adapters register themselves with :func:`register_dataset` when their package is imported. :func:`discover`
imports the built-in packages (``datasets``, ``methods``) and every module named in ``$HMRBENCH_PLUGINS``
(comma-separated), so a researcher adds a dataset by writing a module that calls :func:`register_dataset` and
listing it there.

A dataset root is resolved by :func:`resolve_data_root`: the ``--data-root`` argument, else ``$HMRBENCH_DATA``;
below it, each dataset lives in a folder of its own name (``panoptic/``, ``h36m/``, ``stb/``). With no root the
dataset's synthetic default is used: written once in the dataset's real file format into the cache
(``<cache>/synthetic/``) by its generator and read back through the same adapter, and labelled synthetic.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import ConfigError, DataFileError
from bench.settings import Setting, declared_settings, typed_settings

__all__ = [
    "SYNTHETIC_MARKER",
    "DatasetSpec",
    "dataset_names",
    "discover",
    "get_dataset",
    "load_dataset",
    "read_synthetic_marker",
    "register_dataset",
    "resolve_data_root",
    "synthetic_default_root",
]

SYNTHETIC_MARKER = "HMRBENCH_SYNTHETIC.json"  # written at the top of every generated tree
_BUILTIN_PACKAGES = ("datasets", "methods")
_DATASETS: dict[str, DatasetSpec] = {}
_METHODS: dict[str, MethodSpec] = {}
_discovered = False


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    load: ``load(folder, **settings) -> SampleSet`` reads this dataset's tree (the ``<root>/<name>`` folder).
    synthesize: ``synthesize(out, *, frames, seed, noise) -> dict`` writes a synthetic tree in the real format
        (``frames``: None = the default size; ``noise``: 'detector' or 'none') and returns a summary; None when
        the dataset has no generator.
    check: ``check(folder) -> list[dict]`` validates a tree and returns count rows (each a dict of id fields and
        'samples'); raises DataFileError on the first malformed file.
    """

    name: str
    description: str
    load: Callable[..., Any]
    check: Callable[[Path], list[dict[str, Any]]]
    synthesize: Callable[..., dict[str, Any]] | None = None
    generator_version: str = "1"
    settings: Mapping[str, Any] = field(default_factory=dict)  # name -> default
    declared: Mapping[str, Setting] = field(default_factory=dict)  # name -> its type, choices, range

    def __post_init__(self) -> None:
        declared = declared_settings(self.load)
        object.__setattr__(self, "declared", declared)
        object.__setattr__(self, "settings", {k: s.default for k, s in declared.items()})


def register_dataset(
    name: str, *, description: str, check: Callable, synthesize: Callable | None = None, generator_version: str = "1"
) -> Callable[[Callable], Callable]:
    """Decorator for a ``load(folder, *, setting=default, ...)`` function: registers the dataset ``name``."""

    def wrap(load: Callable) -> Callable:
        if name in _DATASETS and _DATASETS[name].load is not load:
            first = _DATASETS[name].load.__module__
            raise ValueError(f"dataset {name!r} registered twice ({first}, {load.__module__})")
        _DATASETS[name] = DatasetSpec(name, description, load, check, synthesize, generator_version)
        return load

    return wrap


def discover() -> None:
    """Import the built-in packages and the modules in $HMRBENCH_PLUGINS (once)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in _BUILTIN_PACKAGES:
        importlib.import_module(module)
    for module in filter(None, (m.strip() for m in os.environ.get("HMRBENCH_PLUGINS", "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"HMRBENCH_PLUGINS: cannot import {module!r}: {exc}") from None


def dataset_names() -> tuple[str, ...]:
    discover()
    return tuple(sorted(_DATASETS))


def dataset_source(name: str, data_root: str | os.PathLike | None = None) -> tuple[str, bool]:
    """Where dataset ``name``'s data would come from, in words, and whether it is available now (a real tree
    under the data root, or a synthetic default that can be generated)."""
    spec = get_dataset(name)
    root = resolve_data_root(data_root)
    if root is not None and (root / name).is_dir():
        kind = "synthetic tree" if (root / name / SYNTHETIC_MARKER).is_file() else "real data root"
        return f"{kind} {root / name}", True
    if root is not None:
        return f"no {name}/ under {root}", False
    if spec.synthesize is not None:
        return "synthetic default", True
    return "needs --data-root / HMRBENCH_DATA", False


def get_dataset(name: str) -> DatasetSpec:
    discover()
    try:
        return _DATASETS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; registered datasets: {', '.join(sorted(_DATASETS))}") from None


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path | None:
    """The real-data root: ``data_root``, else $HMRBENCH_DATA, else None (synthetic defaults)."""
    if data_root is not None and str(data_root) != "":
        origin, root = "--data-root", Path(data_root)
    elif os.environ.get("HMRBENCH_DATA"):
        origin, root = "HMRBENCH_DATA", Path(os.environ["HMRBENCH_DATA"])
    else:
        return None
    if not root.is_dir():
        raise DataFileError(f"{root}: data root (from {origin}) is not a folder")
    return root


def read_synthetic_marker(folder: Path) -> dict[str, Any] | None:
    """The generator's marker of a synthetic tree, or None for real data."""
    path = Path(folder) / SYNTHETIC_MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: cannot read the synthetic-data marker: {exc}") from None


def synthetic_default_root(name: str, *, seed: int = 0) -> Path:
    """Where the synthetic default of ``name`` is cached: ``<cache>/synthetic/<name>-g<version>-s<seed>``."""
    from bench.body.embedded.build import cache_root

    spec = get_dataset(name)
    return cache_root() / "synthetic" / f"{name}-g{spec.generator_version}-s{seed}"


def _ensure_synthetic(spec: DatasetSpec, seed: int) -> Path:
    folder = synthetic_default_root(spec.name, seed=seed)
    if (folder / SYNTHETIC_MARKER).is_file():
        return folder
    if spec.synthesize is None:
        raise ConfigError(f"dataset {spec.name!r} has no synthetic generator: give --data-root or HMRBENCH_DATA")
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"hmrbench: writing the synthetic {spec.name} set (once) to {folder} ...", file=sys.stderr, flush=True)
    spec.synthesize(tmp, frames=None, seed=seed, noise="detector")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def check_dataset_settings(name: str, settings: Mapping[str, Any]) -> DatasetSpec:
    """The registered dataset ``name``, after checking that ``settings`` names only its settings and that each
    value fits its declared type, choices and range (``bench.settings``; a ConfigError naming the setting and
    what it may be otherwise). Nothing is read: what depends on the files is checked by the adapter."""
    spec = get_dataset(name)
    typed_dataset_settings(name, settings)
    return spec


def typed_dataset_settings(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` of dataset ``name`` typed by their declarations (text from a spec becomes the declared type:
    ``views=00_16`` is ``('00_16',)``); ConfigError as :func:`check_dataset_settings`."""
    return typed_settings(f"dataset {name!r}", dict(get_dataset(name).declared), dict(settings))


def load_dataset(name: str, *, data_root: str | os.PathLike | None = None, seed: int = 0, **settings: Any):
    """Load dataset ``name`` as a ``bench.samples.SampleSet``.

    data_root: see :func:`resolve_data_root`; the dataset is read from ``<root>/<name>``. Without a root, the
    synthetic default (generated with ``seed``) is read. ``settings`` are the adapter's keyword settings; an
    unknown one is a ConfigError listing the valid ones. The set's ``info`` gets 'synthetic' and 'source'; in a
    generated tree, 2D the adapter read from detector files ('keypoints2d' = 'detections') is the generator's
    simulated output and is labelled 'simulated' ('exact' when it was written without noise).
    """
    spec = get_dataset(name)
    settings = typed_dataset_settings(name, settings)
    root = resolve_data_root(data_root)
    if root is None:
        folder = _ensure_synthetic(spec, seed)
    else:
        folder = root / name
        if not folder.is_dir():
            raise DataFileError(f"{folder}: no {name}/ folder under the data root {root}")
    samples = spec.load(folder, **settings)
    marker = read_synthetic_marker(folder)
    samples.info["synthetic"] = marker is not None
    samples.info["source"] = str(folder)
    if marker is not None:
        samples.info["generator"] = marker
        if samples.info.get("keypoints2d") == "detections":  # a generated tree's detector files: simulated ones
            exact = (marker.get("noise") or {}).get("kind") == "none"
            samples.info["keypoints2d"] = "exact" if exact else "simulated"
    return samples


# --- methods ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodSpec:
    """A registered method family: ``factory(context, **params)`` builds one variant (``bench.method``).

    ``params`` (name -> default) come from ``config``, a dataclass whose fields are the method's settings, when
    given; else from the factory's keyword-only parameters.
    """

    name: str
    description: str
    factory: Callable[..., Any]
    config: type | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # name -> default
    declared: Mapping[str, Setting] = field(default_factory=dict)  # name -> its type, choices, range

    def __post_init__(self) -> None:
        declared = declared_settings(self.config if self.config is not None else self.factory)
        object.__setattr__(self, "declared", declared)
        object.__setattr__(self, "params", {k: s.default for k, s in declared.items()})


def register_method(name: str, *, description: str, config: type | None = None) -> Callable[[Callable], Callable]:
    """Decorator for a ``factory(context, **params)`` returning a ``bench.method.Method``; the parameters are
    ``config``'s fields (a dataclass) or, without it, the factory's keyword-only parameters."""

    def wrap(factory: Callable) -> Callable:
        if name in _METHODS and _METHODS[name].factory is not factory:
            first = _METHODS[name].factory.__module__
            raise ValueError(f"method {name!r} registered twice ({first}, {factory.__module__})")
        _METHODS[name] = MethodSpec(name, description, factory, config)
        return factory

    return wrap


def method_names() -> tuple[str, ...]:
    discover()
    return tuple(sorted(_METHODS))


def get_method(name: str) -> MethodSpec:
    discover()
    try:
        return _METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; registered methods: {', '.join(sorted(_METHODS))}") from None


def check_method_spec(spec: str, **overrides: Any) -> tuple[MethodSpec, dict[str, Any]]:
    """``'name[k=v,...]'`` (``bench.method.parse_spec``) plus ``overrides`` -> the registered method and its
    parameters typed by their declarations (``bench.settings``), after checking the name, the parameter names and
    each value's type, choices and range (ConfigError naming the parameter and what it may be); nothing is built.
    What depends on other parameters or on the data is checked by the factory."""
    from bench.method import parse_spec

    try:
        name, params = parse_spec(spec)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    entry = get_method(name)
    params.update(overrides)
    return entry, typed_settings(f"method {name!r}", dict(entry.declared), params, noun="parameter")


def create_method(spec: str, context: Any = None, **overrides: Any) -> Any:
    """Build a method from ``'name'`` or ``'name[k=v,...]'`` plus ``overrides`` (:func:`check_method_spec`)."""
    from bench.method import MethodContext

    entry, params = check_method_spec(spec, **overrides)
    return entry.factory(context if context is not None else MethodContext(), **params)


def report_builder() -> Callable[..., dict[str, Path]]:
    """The report builder (``reports.build_report(rows, out_dir, *, per_sample, sweeps, settings,
    titles)``: titles = experiment name -> its title): bench runs
    and tracks, ``reports`` renders; bench reaches it only here, by name."""
    return importlib.import_module("reports").build_report
