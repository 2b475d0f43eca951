"""The device audit of issue 14, checked on the CPU: how often a training step and a ``predict`` call of each method
would wait for the device (read a tensor's value on the host) under ``--device cuda``.

No GPU is needed: a ``TorchDispatchMode`` records every operation that reads a tensor's value into Python or sizes
its output by the data (``aten._local_scalar_dense`` / ``is_nonzero``: ``.item()``, ``float(t)``, ``bool(t)``,
``if t:``; ``aten.nonzero``, boolean-mask indexing and ``masked_select``), and ``Tensor.cpu`` / ``.numpy`` /
``.tolist`` are counted, each with the method code that asked for it. On a GPU each of these is a synchronisation.
A step's count is the difference between two fits that differ only in their number of steps (set-up, the last
logging step and the end-of-training checks are the same in both), so it is exact and does not depend on how long
set-up is.

Not counted (not a device synchronisation): the optimiser's own step counter, a host tensor in ``torch.optim``
(non-fused Adam keeps it on the CPU even for CUDA parameters). What a CPU run cannot see: a tensor created on the
host and copied to the device inside a step (on the CPU there is nothing to copy); the ``gpu``-marked tests in
``tests/gpu/`` check that with ``torch.cuda.set_sync_debug_mode``.

Allowed per training step: proposed and lifter 1 (the non-finite-loss guard, commented in the code), fhgr 0 (it has
no guard). ``predict``: 0 for proposed, fhgr, gtsub and meanpose; 1 for the lifter (the joints-only contract check
of ``bench.method.Prediction``, one read for all its tests). The SMPLify-X-style optimiser shrinks its batch as
images converge, which needs the active set on the host: a bounded number of reads per L-BFGS iteration and per
line-search trial, checked below. Tiny networks; < 30 s on 2 cores.
"""

from __future__ import annotations

import collections
import traceback
from pathlib import Path

import pytest
import torch
from _sts_sets import sts_body_set as body_set
from _sts_sets import sts_hand_set as hand_set
from torch.utils._python_dispatch import TorchDispatchMode

from bench.method import MethodContext
from bench.registry import create_method
from methods.fhgr import create_fhgr
from methods.lifter import create_lifter
from methods.proposed import create_proposed

ROOT = Path(__file__).resolve().parents[2]
aten = torch.ops.aten
# under inference_mode ``bool(t)`` reaches the mode as ``is_nonzero`` (not decomposed into ``_local_scalar_dense``)
READS = {aten._local_scalar_dense.default, aten.is_nonzero.default, aten.item.default, aten.equal.default,
         aten.nonzero.default, aten.masked_select.default}  # fmt: skip
MASKED = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default, aten._index_put_impl_.default}


def _caller() -> str | None:
    """'path:line' of the innermost frame of this project's code (not torch, not this file), or None when the
    read comes from ``torch.optim`` (the optimiser's host step counter, module docstring)."""
    frames = traceback.extract_stack()[:-2]
    if any("/torch/optim/" in f.filename for f in frames[-6:]):
        return None
    for f in reversed(frames):
        path = Path(f.filename).resolve()
        if ROOT in path.parents and "site-packages" not in path.parts and path.name != Path(__file__).name:
            return f"{path.relative_to(ROOT)}:{f.lineno}"
    return "?"


class HostReads(TorchDispatchMode):
    """Counts host reads of tensor values (module docstring) by the project line that asked for them."""

    def __init__(self) -> None:
        super().__init__()
        self.where: collections.Counter[str] = collections.Counter()
        self._patched: list[tuple[str, object]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        hit = func in READS or (
            func in MASKED and any(i is not None and i.dtype == torch.bool for i in args[1])
        )  # fmt: skip
        if hit and (where := _caller()) is not None:
            self.where[f"{func.__name__}@{where}"] += 1
        return func(*args, **(kwargs or {}))

    def __enter__(self):
        for name in ("cpu", "numpy", "tolist"):
            original = getattr(torch.Tensor, name)

            def counted(tensor, *a, _original=original, _name=name, **kw):
                if (where := _caller()) is not None:
                    self.where[f"{_name}@{where}"] += 1
                return _original(tensor, *a, **kw)

            self._patched.append((name, original))
            setattr(torch.Tensor, name, counted)
        return super().__enter__()

    def __exit__(self, *exc):
        for name, original in self._patched:
            setattr(torch.Tensor, name, original)
        self._patched.clear()
        return super().__exit__(*exc)

    @property
    def total(self) -> int:
        return sum(self.where.values())


def reads(work) -> HostReads:
    with HostReads() as counter:
        work()
    return counter


def per_step(fit_with_steps, few: int = 2, many: int = 7) -> tuple[float, collections.Counter]:
    """Host reads per training step: (reads of a ``many``-step fit - those of a ``few``-step fit) / (many - few),
    and the lines that differ."""
    a, b = reads(lambda: fit_with_steps(few)), reads(lambda: fit_with_steps(many))
    diff = b.where.copy()
    diff.subtract(a.where)
    return (b.total - a.total) / (many - few), +diff


TINY_PROPOSED = {"hidden": 48, "rank": 16, "gcn_hidden": 8, "sts_pool": 256, "batch_size": 8, "log_every": 1000,
                 "sts": False}  # fmt: skip


def proposed(**kw):
    return create_proposed(MethodContext(seed=0), **{**TINY_PROPOSED, "pretrain_iterations": 0, **kw})


@pytest.fixture(scope="module")
def sets(embedded_cache):
    model = proposed().train_model
    return {"train": body_set(model, 64, seed=1), "val": body_set(model, 16, seed=2), "hands": hand_set(model, 32, 3)}


@pytest.mark.parametrize("camera_supervision", ["none", "gt"])
def test_proposed_training_step_reads_the_device_once(sets, camera_supervision):
    rate, lines = per_step(lambda n: proposed(iterations=n, camera_supervision=camera_supervision)
                           .fit({"train": sets["train"]}))  # fmt: skip
    assert rate == 1, f"host reads per step: {rate}: {dict(lines)}"
    assert all("isfinite" not in k for k in lines)  # the one read is the guard's (`if torch.isfinite(loss)`)


def test_proposed_partial_pretraining_step_reads_the_device_once_beside_its_sts_batches(sets):
    """Its batches come from the STS stream (sts.py: the detector-noise model is numpy, a host round trip per
    batch, outside this audit); the step itself reads once, the non-finite guard."""
    rate, lines = per_step(lambda n: proposed(iterations=0, pretrain_iterations=n).fit({}))
    own = {k: v for k, v in lines.items() if "sts.py" not in k and "datasets/" not in k}
    assert sum(own.values()) / 5 == 1, f"host reads per pretraining step outside the STS stream: {own}"


def test_lifter_training_step_reads_the_device_once(sets):
    make = lambda n: create_lifter(MethodContext(seed=0), width=64, sts=False, iterations=n, batch_size=8,  # noqa: E731
                                   log_every=1000)  # fmt: skip
    rate, lines = per_step(lambda n: make(n).fit({"train": sets["train"]}))
    assert rate == 1, f"host reads per step: {rate}: {dict(lines)}"


def test_fhgr_training_step_does_not_read_the_device(sets):
    make = lambda n: create_fhgr(MethodContext(seed=0), gcn_hidden=8, sts=False, iterations=n,  # noqa: E731
                                 log_every=1000)  # fmt: skip
    rate, lines = per_step(lambda n: make(n).fit({"stb": sets["hands"]}))
    assert rate == 0, f"host reads per step: {rate}: {dict(lines)}"


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [("proposed", 0), ("lifter", 1), ("fhgr", 0), ("gtsub[parts=body_pose]", 0), ("meanpose", 0)],
)
def test_predict_reads_the_device_at_most_as_the_contract_needs(sets, spec, allowed):
    small = {"proposed": TINY_PROPOSED, "lifter": {"width": 64}, "fhgr": {"gcn_hidden": 8},
             "gtsub[parts=body_pose]": TINY_PROPOSED, "meanpose": {}}[spec]  # fmt: skip
    name = spec.split("[")[0]
    method = create_method(spec if not small else f"{spec[:-1]},{_spec(small)}]" if "[" in spec
                           else f"{spec}[{_spec(small)}]", MethodContext(seed=0))  # fmt: skip
    data = sets["hands"] if name == "fhgr" else sets["val"]
    if name == "meanpose":
        method.fit({"train": sets["train"]})
    if name == "fhgr":
        method.supports(data)
    batch = next(data.batches(8))
    method.predict(batch)  # caches (weights, gathers) built once
    counter = reads(lambda: method.predict(batch))
    assert counter.total <= allowed, f"{spec}: host reads per predict: {dict(counter.where)}"


def _spec(settings: dict) -> str:
    return ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in settings.items())


def test_smplifyx_reads_a_bounded_number_of_times_per_lbfgs_iteration(sets):
    """The active set (images still fitting) lives on the host: at most one read per L-BFGS iteration and one per
    line-search trial, beside the per-stage set-up (7.5 per iteration or trial before the audit: every
    boolean-mask update read its mask)."""
    spec = "smplifyx[iterations={},camera_iterations=2,prior_samples=2000,prior_iters=10,ftol=0,gtol=0]"
    batch = next(sets["val"].batches(4))
    evaluations = {}

    def fit(n: int) -> None:
        method = create_method(spec.format(n), MethodContext(seed=0))
        method.fit({})
        evaluations[n] = int(method.predict(batch).info["loss_evals"].max())

    a, b = reads(lambda: fit(2)), reads(lambda: fit(6))
    steps = 5 * (6 - 2)  # five stages, each 4 more iterations (ftol = gtol = 0: none stops early)
    trials = evaluations[6] - evaluations[2]
    per = (b.total - a.total) / (steps + trials)
    assert per <= 1, (
        f"host reads per L-BFGS iteration or trial: {per:.2f} ({b.total - a.total} over {steps} "
        f"iterations and {trials} trials)"
    )


def test_full_mesh_forward_builds_its_tree_indices_once_per_device(body_model, monkeypatch):
    """The kinematic tree's indices are device tensors built at the first forward: later forwards index with
    them, never with the host (numpy) parents, which on a GPU are copied to the device per level and call."""
    betas = torch.zeros(2, 10)
    first = body_model.forward(betas=betas, body_pose=torch.full((2, 63), 0.1))

    class NoHostIndex:
        def __getitem__(self, item):
            raise AssertionError("the host parents were indexed inside a forward")

    monkeypatch.setattr(body_model, "_parents", NoHostIndex(), raising=True)
    again = body_model.forward(betas=betas, body_pose=torch.full((2, 63), 0.1))
    torch.testing.assert_close(again.vertices, first.vertices, atol=0, rtol=0)
