"""Batched L-BFGS: many independent problems minimised at once, each with its own curvature history, step length
and convergence (used by the ``smplifyx`` baseline, one problem per image).

``torch.optim.LBFGS`` on the sum of per-sample objectives would share one step length and one history over the
batch, so every sample's trajectory would depend on its batch mates and the batch would stop only when the sum
does. Here every quantity of the algorithm carries a batch dimension:

- direction: the two-loop recursion over each sample's last ``history`` pairs (s, y), scaled by its own
  ``gamma = s.y / y.y`` (Nocedal & Wright, Alg. 7.4); a pair with ``s.y <= 1e-10`` is stored with ``rho = 0``, which
  makes it a no-op in both loops; a non-descent direction falls back to steepest descent for that sample.
- step: a line search for the strong Wolfe conditions (``f(x + t d) <= f(x) + c1 t g.d`` and
  ``|g(x + t d).d| <= c2 |g.d|``, c1 = 1e-4, c2 = 0.9), per sample by bracketing: the trial doubles until the
  minimum is bracketed, then the bracket is bisected. The first iteration tries ``t = min(1, 1 / |g|_1)`` (as
  torch), later ones ``t = 1``. A sample whose search ends without a Wolfe point takes its best Armijo point,
  or stays where it is and stops (converged: no further decrease found).
- stop, per sample: relative change of the objective ``<= ftol`` (SMPLify-X's ``rel_change``), largest gradient
  component ``<= gtol``, no decrease found, or ``max_iter`` iterations. Stopped samples drop out of the
  evaluations, so the work shrinks as the batch converges.

Non-finite objectives (or ``|f| >= max_value``) at a trial point count as a failed Armijo test, so the search backs
off; a sample whose starting point is already non-finite is reported failed and never moved.

On a GPU: the rows still running (``torch.nonzero`` of the active / pending set) are read on the host once per
iteration and once per line-search trial, as the batch shrinks; every other per-sample update is a ``torch.where``
over those rows (no boolean-mask indexing, which would read the mask on the host each time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["LBFGSResult", "minimize"]

Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class LBFGSResult:
    x: torch.Tensor  # (B, D) final points (the start for failed samples)
    f: torch.Tensor  # (B,) objective at x (nan where failed)
    failed: torch.Tensor  # (B,) bool: the start was not finite
    iterations: torch.Tensor  # (B,) long: accepted iterations per sample
    evaluations: torch.Tensor  # (B,) long: objective evaluations that included the sample


def _evaluate(fun: Objective, x: torch.Tensor, idx: torch.Tensor, max_value: float):
    """Objective (n,) and gradient (n, D) at x for batch rows idx; ok (n,) marks finite values below max_value."""
    with torch.enable_grad():
        xs = x.detach().requires_grad_(True)
        f = fun(xs, idx)
        ok = torch.isfinite(f) & (f.abs() < max_value)
        (g,) = torch.autograd.grad(torch.where(ok, f, torch.zeros_like(f)).sum(), xs)
    f = torch.where(ok, f.detach(), torch.full_like(f, math.inf))
    return f, torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0), ok


def _line_search(fun, idx, x, f0, g0, d, gtd0, t, counts, *, c1, c2, max_evals, max_value):
    """Per-sample strong-Wolfe search along d from x (module docstring); counts (B,) evaluations per batch row,
    updated in place. Returns new x, f, g and moved (bool)."""
    n = len(idx)
    lo = torch.zeros_like(t)
    hi = torch.full_like(t, math.inf)
    done = torch.zeros(n, dtype=torch.bool, device=x.device)
    x_out, f_out, g_out = x.clone(), f0.clone(), g0.clone()
    best_t, best_f, best_g = torch.zeros_like(t), f0.clone(), g0.clone()
    for _ in range(max_evals):
        pend = torch.nonzero(~done).flatten()
        if len(pend) == 0:
            break
        tp, dp = t[pend], d[pend]
        xt = x[pend] + tp[:, None] * dp
        ft, gt, ok = _evaluate(fun, xt, idx[pend], max_value)
        counts[idx[pend]] += 1
        gtd = (gt * dp).sum(1)
        armijo = ok & (ft <= f0[pend] + c1 * tp * gtd0[pend])
        better = armijo & (ft < best_f[pend])
        best_t[pend] = torch.where(better, tp, best_t[pend])
        best_f[pend] = torch.where(better, ft, best_f[pend])
        best_g[pend] = torch.where(better[:, None], gt, best_g[pend])
        curvature = gtd.abs() <= -c2 * gtd0[pend]
        accept = armijo & curvature
        x_out[pend] = torch.where(accept[:, None], xt, x_out[pend])
        f_out[pend] = torch.where(accept, ft, f_out[pend])
        g_out[pend] = torch.where(accept[:, None], gt, g_out[pend])
        done[pend] = done[pend] | accept
        # bracket: too far (no decrease, or already climbing) -> upper end; still descending steeply -> lower end
        too_far = ~accept & (~armijo | (gtd > 0))
        too_near = ~accept & armijo & (gtd <= 0)
        hi[pend] = torch.where(too_far, tp, hi[pend])
        lo[pend] = torch.where(too_near, tp, lo[pend])
        h, low = hi[pend], lo[pend]
        t[pend] = torch.where(torch.isfinite(h), 0.5 * (low + h), 2.0 * tp)
    moved = done.clone()
    fallback = ~done & (best_f < f0)  # no Wolfe point: the best sufficient decrease seen
    x_out = torch.where(fallback[:, None], x + best_t[:, None] * d, x_out)
    f_out = torch.where(fallback, best_f, f_out)
    g_out = torch.where(fallback[:, None], best_g, g_out)
    moved |= fallback
    return x_out, f_out, g_out, moved


def minimize(
    fun: Objective,
    x0: torch.Tensor,
    *,
    max_iter: int,
    history: int = 10,
    max_ls: int = 20,
    ftol: float = 1e-9,
    gtol: float = 1e-9,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_value: float = math.inf,
    frozen: torch.Tensor | None = None,
) -> LBFGSResult:
    """Minimise ``fun`` independently for every row of ``x0`` (B, D).

    ``fun(x, idx)`` gets the points (n, D) of the batch rows ``idx`` (n,) still running and returns their (n,)
    objectives; row i must depend on ``x[i]`` only (autograd gives every row's gradient from the sum).
    ``frozen`` (B,) bool rows are left untouched and not evaluated.
    """
    B, D = x0.shape
    dev, dt = x0.device, x0.dtype
    x = x0.detach().clone()
    f = torch.full((B,), math.nan, dtype=dt, device=dev)
    g = torch.zeros_like(x)
    iterations = torch.zeros(B, dtype=torch.long, device=dev)
    frozen = torch.zeros(B, dtype=torch.bool, device=dev) if frozen is None else frozen.to(dev)
    start = torch.nonzero(~frozen).flatten()
    failed = torch.zeros(B, dtype=torch.bool, device=dev)
    evals = torch.zeros(B, dtype=torch.long, device=dev)
    if len(start):
        f0, g0, ok = _evaluate(fun, x[start], start, max_value)
        evals[start] += 1
        f[start], g[start] = torch.where(ok, f0, torch.nan), g0
        failed[start[~ok]] = True
    active = ~frozen & ~failed
    m = max(int(history), 1)
    S = torch.zeros(B, m, D, dtype=dt, device=dev)
    Y = torch.zeros_like(S)
    rho = torch.zeros(B, m, dtype=dt, device=dev)
    gamma = torch.ones(B, dtype=dt, device=dev)
    fresh = torch.ones(B, dtype=torch.bool, device=dev)  # no curvature pair yet
    slot, stored = 0, 0
    for _ in range(max_iter):
        active &= ~(g.abs().amax(1) <= gtol)  # stationary (also at the start)
        idx = torch.nonzero(active).flatten()
        if len(idx) == 0:
            break
        gi, xi, fi = g[idx], x[idx], f[idx]
        Si, Yi, ri = S[idx], Y[idx], rho[idx]
        order = [(slot - 1 - j) % m for j in range(min(stored, m))]  # newest first
        q, alphas = -gi, []
        for j in order:
            a = ri[:, j] * (Si[:, j] * q).sum(1)
            q = q - a[:, None] * Yi[:, j]
            alphas.append(a)
        r = gamma[idx, None] * q
        for j, a in zip(reversed(order), reversed(alphas), strict=True):
            b = ri[:, j] * (Yi[:, j] * r).sum(1)
            r = r + (a - b)[:, None] * Si[:, j]
        gtd = (gi * r).sum(1)
        steep = ~(gtd < 0)  # not a descent direction (or nan): steepest descent, forget the history
        d = torch.where(steep[:, None], -gi, r)
        gtd = torch.where(steep, -(gi * gi).sum(1), gtd)
        rho[idx] = torch.where(steep[:, None], 0.0, rho[idx])  # steepest descent: the history forgotten
        fresh[idx] = fresh[idx] | steep
        first = fresh[idx] | steep
        t = torch.where(first, (1.0 / gi.abs().sum(1).clamp_min(1e-30)).clamp(max=1.0), torch.ones_like(gtd))
        xn, fn, gn, moved = _line_search(
            fun, idx, xi, fi, gi, d, gtd, t, evals, c1=c1, c2=c2, max_evals=max_ls, max_value=max_value
        )
        s, y = xn - xi, gn - gi
        ys = (s * y).sum(1)
        pair = moved & (ys > 1e-10)
        S[idx, slot], Y[idx, slot] = s, y
        rho[idx, slot] = torch.where(pair, 1.0 / ys.clamp_min(1e-10), torch.zeros_like(ys))
        gamma[idx] = torch.where(pair, ys / (y * y).sum(1).clamp_min(1e-30), gamma[idx])
        fresh[idx] &= ~pair
        slot, stored = (slot + 1) % m, stored + 1
        change = (fi - fn).abs() <= ftol * torch.maximum(torch.maximum(fi.abs(), fn.abs()), torch.ones_like(fn))
        stop = ~moved | change
        x[idx], f[idx], g[idx] = xn, fn, gn
        iterations[idx] += moved.long()
        active[idx] = active[idx] & ~stop
    return LBFGSResult(x=x, f=f, failed=failed, iterations=iterations, evaluations=evals)
