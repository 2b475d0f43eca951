"""Validation on a held-out part of the training data: the split (``holdout``, used by sweeps and by the runner) and
the training-length rule (``EarlyStopping``), so that a trained method's length is chosen by its validation error,
not by a fixed iteration count (the paper states none for these methods).

- **Split** (``find_holdout`` / ``holdout``): the last subject (sorted) of the first training set that has more
  than one subject and 3D ground truth for that subject is held out of training; the validation set is its samples
  (at most ``val_limit``, spread evenly: ``spread``). Never the test split. A training set list without one (no
  training set, one subject, 2D-only data) has no held-out set.
- **Rule** (``StoppingRule``, default on): every time the method reports a logging step through
  ``MethodContext.checkpoint`` (``log_every`` iterations), the runner's checkpoint (``EarlyStopping``) scores the
  method's MPJPE on the validation set; a score lower than the best so far by at least ``min_delta_mm`` is the new
  best and its weights are kept (the method's own ``save`` to a temporary file); after ``patience`` scores in a row
  without such an improvement the checkpoint returns True and the method's loop stops. The method's ``iterations``
  stays the maximum. At the stop (or the last iteration) the best weights are loaded back, before the method's own
  end-of-training checks, so the scored model is the best one.
- **Report** (``EarlyStopping.finish``): the fit summary gains ``iterations_used``, ``best_iteration``,
  ``val_mpjpe_mm`` (the best), ``stopped`` (``STOP_REASONS``), ``validation`` (which samples) and ``stopping`` (the
  rule); each ``history`` entry at a validation point gains ``val_mpjpe_mm`` (the curve ``train/val_mpjpe_mm`` in
  MLflow).

A rule's settings enter the training key (``StoppingRule.key_part``), so a model trained under another rule is not
reused; with the rule off the key is the one from before the rule existed (train on every set to ``iterations``).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ConfigError

__all__ = ["DEFAULT_RULE", "STOP_REASONS", "EarlyStopping", "StoppingRule", "find_holdout", "holdout",
           "parse_stopping", "spread", "trainable", "unvalidated_summary"]  # fmt: skip

# why training stopped: the rule's patience ran out; it reached ``iterations``; no validation set could be held out
# of the training sets (trained to ``iterations`` on all of them); the rule is off (likewise)
STOP_REASONS = ("patience", "max iterations", "no held-out set", "off")


@dataclass(frozen=True)
class StoppingRule:
    """The training-length rule (module docstring). ``patience``: validation points (one every ``log_every``
    iterations) without an improvement of at least ``min_delta_mm`` before training stops; ``val_limit``: the most
    held-out samples scored at each point.

    Defaults measured (synthetic H36M, lifter[width=256,blocks=1,sts=false,log_every=100], seed 0, test MPJPE on
    512 samples): patience 5 / 0.5 mm stopped at 1,800 of 3,000 iterations, 104.1 mm against 96.7 mm trained to
    3,000 without the rule (the validation curve is noisy by about 2 mm from check to check); patience 10 / 0.1 mm
    ran 5,800 of 6,000 (best at 4,800), 96.8 mm, against 94.8 mm trained to 4,800 on every subject."""

    on: bool = True
    patience: int = 10
    min_delta_mm: float = 0.1
    val_limit: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.on, bool):
            raise ConfigError(f"early stopping: on={self.on!r}: expected true or false")
        for name in ("patience", "val_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"early stopping: {name}={value!r}: expected an integer >= 1")
        value = self.min_delta_mm
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"early stopping: min_delta_mm={value!r}: expected a number >= 0")

    def key_part(self, method: Any) -> dict[str, Any] | None:
        """What the training key holds of this rule for ``method``: None for a method without a training length
        (``trainable``) or with the rule off (the key from before the rule: all sets, ``iterations``)."""
        return asdict(self) if self.on and trainable(method) else None


DEFAULT_RULE = StoppingRule()


def parse_stopping(text: str | StoppingRule | None) -> StoppingRule:
    """A rule from ``'on'``, ``'off'`` or ``'patience=3,min_delta_mm=0.2,val_limit=128'`` (unnamed settings keep
    their defaults; ``on=false`` is ``'off'``); None is ``DEFAULT_RULE``. ConfigError naming a bad setting or value."""
    if text is None:
        return DEFAULT_RULE
    if isinstance(text, StoppingRule):
        return text
    words = str(text).strip().lower()
    if words in ("on", "true", ""):
        return DEFAULT_RULE
    if words in ("off", "false"):
        return StoppingRule(on=False)
    known = [f.name for f in fields(StoppingRule)]
    values: dict[str, Any] = {}
    for item in words.split(","):
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or key not in known:
            raise ConfigError(f"early stopping {text!r}: {item.strip()!r} is not one of "
                              f"{', '.join(f'{k}=...' for k in known)} (or 'on' / 'off')")  # fmt: skip
        if key == "on":
            if value not in ("true", "false"):
                raise ConfigError(f"early stopping {text!r}: on={value!r}: expected true or false")
            values[key] = value == "true"
            continue
        try:
            values[key] = float(value) if key == "min_delta_mm" else int(value)
        except ValueError:
            raise ConfigError(f"early stopping {text!r}: {key}={value!r} is not a number") from None
    return StoppingRule(**values)


def trainable(method: Any) -> bool:
    """True for a method with a training length (an integer ``iterations`` > 0 in its config): the rule applies."""
    iterations = dict(getattr(method, "config", {}) or {}).get("iterations")
    return isinstance(iterations, int) and not isinstance(iterations, bool) and iterations > 0


def spread(samples: Any, limit: int) -> Any:
    """``samples`` itself when it has at most ``limit`` samples, else ``limit`` of them spread evenly over it."""
    if len(samples) <= limit:
        return samples
    return samples.subset(np.unique(np.linspace(0, len(samples) - 1, limit).round().astype(int)))


def find_holdout(train_sets: Mapping[str, Any]) -> tuple[dict[str, Any], Any, str] | None:
    """(the training sets without the held-out subject, the held-out samples, a description) or None when no
    training set can give one (module docstring)."""
    for spec, samples in train_sets.items():
        subject = np.asarray(samples.ids["subject"]).astype(str)
        subjects = sorted(set(subject))
        if len(subjects) < 2:
            continue
        held = subject == subjects[-1]
        val = samples.subset(held)
        if not np.asarray(val.joints3d_valid).any():  # a 2D-only set cannot score a validation MPJPE
            continue
        rest = {**train_sets, spec: samples.subset(~held)}
        return rest, val, f"subject {subjects[-1]} of {spec} (held out of training)"
    return None


def holdout(train_sets: Mapping[str, Any], who: str = "sweep") -> tuple[dict[str, Any], Any, str]:
    """``find_holdout``, or a ConfigError (``who`` names the caller) when no training set can give one."""
    found = find_holdout(train_sets)
    if found is None:
        raise ConfigError(f"{who}: no training set has two subjects with 3D ground truth to hold one out; give "
                          "--validation SPEC")  # fmt: skip
    return found


class EarlyStopping:
    """The runner's ``MethodContext.checkpoint`` under a ``StoppingRule`` (module docstring): call it with the
    iteration; it returns True when training should stop. Use as a context manager (its temporary folder holds the
    best weights), then ``finish(summary)``."""

    def __init__(self, method: Any, val: Any, rule: StoppingRule, *, device: str = "cpu", batch_size: int = 256,
                 say: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.method, self.val, self.rule = method, val, rule
        self.device, self.batch_size = device, batch_size
        self.say = say or (lambda message: None)
        self.max_iterations = int(dict(method.config).get("iterations", 0))
        self.curve: dict[int, float] = {}  # iteration -> validation MPJPE (mm)
        self.best = math.inf
        self.best_iteration: int | None = None
        self.since_best = 0
        self.stopped = "max iterations"
        self.restored = False
        self._folder: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> EarlyStopping:
        self._folder = tempfile.TemporaryDirectory(prefix="hmrbench-best-")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    @property
    def best_file(self) -> Path:
        if self._folder is None:
            raise RuntimeError("EarlyStopping: use it as a context manager (with EarlyStopping(...) as stop: ...)")
        return Path(self._folder.name) / "best.model"

    def score(self) -> float:
        """The method's MPJPE (mm) on the validation set; inf when it is not finite (every sample failed)."""
        from bench.run.evaluate import evaluate

        mm = evaluate(self.method, self.val, batch_size=self.batch_size, device=self.device).summary()["mpjpe_mm"]
        return float(mm) if math.isfinite(mm) else math.inf

    def __call__(self, iteration: int) -> bool:
        value = self.score()
        self.curve[int(iteration)] = value
        if value <= self.best - self.rule.min_delta_mm or self.best_iteration is None:
            self.best, self.best_iteration, self.since_best = value, int(iteration), 0
            self.method.save(self.best_file)
        else:
            self.since_best += 1
        name = getattr(self.method, "name", "method")
        self.say(f"{name}: it {iteration} validation MPJPE {value:.1f} mm (best {self.best:.1f} mm at it "
                 f"{self.best_iteration}; {self.since_best}/{self.rule.patience} without improvement)")  # fmt: skip
        if self.since_best >= self.rule.patience:
            self.stopped = "patience"
        if self.stopped == "patience" or iteration >= self.max_iterations:
            self.restore()  # before the method's own end-of-training checks, which then see the best weights
            return True
        return False

    def restore(self) -> None:
        """Load the best weights back (once), unless the method already holds them (the last point was the best)."""
        if self.restored or self.best_iteration is None:
            return
        if self.best_iteration != max(self.curve):
            self.method.load(self.best_file)
        self.restored = True

    def finish(self, summary: dict[str, Any], validation: str) -> dict[str, Any]:
        """``summary`` (the method's fit summary) with the best weights restored (if the last checkpoint did not)
        and the rule's report added (module docstring)."""
        self.restore()
        last = max(self.curve) if self.curve else None
        used = last if self.stopped == "patience" and last is not None else summary.get("iterations", last)
        history = [{**e, "val_mpjpe_mm": self.curve[int(e["iteration"])]}
                   if isinstance(e, Mapping) and int(e.get("iteration", -1)) in self.curve else e
                   for e in summary.get("history") or []]  # fmt: skip
        return {**summary, "history": history, "iterations_used": used, "best_iteration": self.best_iteration,
                "val_mpjpe_mm": self.best if math.isfinite(self.best) else None, "stopped": self.stopped,
                "validation": f"{validation}, {len(self.val)} samples", "stopping": asdict(self.rule)}  # fmt: skip


def unvalidated_summary(summary: dict[str, Any], rule: StoppingRule, why: str) -> dict[str, Any]:
    """The fit summary of a trainable method trained without validation (``why``: 'no held-out set' or 'off'):
    it trained to ``iterations``."""
    return {**summary, "iterations_used": summary.get("iterations"), "best_iteration": None, "val_mpjpe_mm": None,
            "stopped": why, "stopping": asdict(rule)}  # fmt: skip
