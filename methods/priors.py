"""Pose prior for the optimiser baselines: a Gaussian mixture fitted by EM on the project's parameter bank.

SMPLify-X's own prior is VPoser, whose weights are licensed (PROTOCOLS.md, "SMPLify-X"); SMPLify (Bogo et al.
2016) used a Gaussian mixture over SMPL body poses instead. This module builds that kind of prior from body poses
sampled with ``datasets.bank.ParameterBank`` and evaluates it as SMPLify's *max-mixture* prior:

    E(x) = min_k [ 0.5 (x - mu_k)^T P_k (x - mu_k) - log w_k + 0.5 log det(2 pi Sigma_k) ],  P_k = Sigma_k^-1,

i.e. the negative log-likelihood of the single closest (most likely) component, not of the full mixture: the
min keeps the gradient of one quadratic and avoids the log-sum-exp's flat regions (as SMPLify's
``MaxMixturePrior`` with ``merge='min'``). Poses are SMPL-X ``body_pose`` axis-angle, (B, 63), radians.

The fitted mixture is cached in ``<cache>/priors/`` (``bench.body.embedded.build.cache_root()``) keyed by a hash of the
bank config, the sample count, the component count, the EM iterations and the seed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.method import config_hash

__all__ = ["GaussianMixture", "MaxMixturePrior", "body_pose_mixture", "fit_gmm", "gmm_log_likelihood"]

PRIOR_VERSION = "1"  # bump when the EM or the sampling changes, so stale cache files are not reused
_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class GaussianMixture:
    """weights (K,) summing to 1, means (K, D), covariances (K, D, D) symmetric positive definite; float64."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    def __post_init__(self) -> None:
        k, d = np.shape(self.means)
        if np.shape(self.weights) != (k,) or np.shape(self.covariances) != (k, d, d):
            raise ValueError(
                f"GaussianMixture: expected weights (K,), means (K, D), covariances (K, D, D); got "
                f"{np.shape(self.weights)}, {np.shape(self.means)}, {np.shape(self.covariances)}"
            )

    @property
    def mean(self) -> np.ndarray:
        """(D,) mean of the whole mixture."""
        return self.weights @ self.means

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}


def _component_log_densities(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """(N, K) log N(x_n | mu_k, Sigma_k) via Cholesky factors."""
    n, d = x.shape
    out = np.empty((n, len(means)))
    for k in range(len(means)):
        L = np.linalg.cholesky(covs[k])
        z = np.linalg.solve(L, (x - means[k]).T)  # (D, N)
        out[:, k] = -0.5 * (z * z).sum(0) - np.log(np.diag(L)).sum() - 0.5 * d * _LOG_2PI
    return out


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def gmm_log_likelihood(x: np.ndarray, gmm: GaussianMixture) -> float:
    """Mean over samples of log p(x_n) under the full mixture (nats per sample)."""
    x = np.asarray(x, dtype=np.float64)
    log_p = _component_log_densities(x, gmm.means, gmm.covariances) + np.log(gmm.weights)
    return float(_logsumexp(log_p, 1).mean())


def fit_gmm(
    x: np.ndarray, components: int, *, iters: int = 100, seed: int = 0, reg: float = 1e-4, tol: float = 1e-6
) -> tuple[GaussianMixture, list[float]]:
    """Full-covariance Gaussian mixture by expectation-maximisation (Dempster et al. 1977), numpy float64.

    x: (N, D) samples. Initial means: ``components`` distinct samples drawn with ``seed`` (k-means++ style: each
    next one with probability proportional to the squared distance to the nearest chosen); initial covariances
    the data covariance; equal weights. ``reg`` is added to every covariance diagonal (keeps them invertible
    when a component collapses). Stops when the mean log-likelihood improves by less than ``tol``.
    Returns the mixture and the mean log-likelihood after each E step (non-decreasing, up to round-off).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < components or components < 1:
        raise ValueError(f"fit_gmm: expected (N, D) samples with N >= components={components}, got {x.shape}")
    n, d = x.shape
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(n))]
    dist = ((x - x[chosen[0]]) ** 2).sum(1)
    for _ in range(components - 1):
        p = dist / dist.sum() if dist.sum() > 0 else np.full(n, 1.0 / n)
        chosen.append(int(rng.choice(n, p=p)))
        dist = np.minimum(dist, ((x - x[chosen[-1]]) ** 2).sum(1))
    means = x[chosen].copy()
    covs = np.repeat((np.cov(x.T).reshape(d, d) + reg * np.eye(d))[None], components, 0)
    weights = np.full(components, 1.0 / components)
    history: list[float] = []
    for _ in range(iters):
        log_p = _component_log_densities(x, means, covs) + np.log(weights)  # E step
        norm = _logsumexp(log_p, 1)
        history.append(float(norm.mean()))
        resp = np.exp(log_p - norm[:, None])  # (N, K)
        nk = resp.sum(0) + 1e-12  # M step
        weights = nk / n
        means = (resp.T @ x) / nk[:, None]
        for k in range(components):
            diff = x - means[k]
            covs[k] = (resp[:, k, None] * diff).T @ diff / nk[k] + reg * np.eye(d)
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    history.append(gmm_log_likelihood(x, GaussianMixture(weights, means, covs)))
    return GaussianMixture(weights, means, covs), history


class MaxMixturePrior(torch.nn.Module):
    """SMPLify's max-mixture negative log-likelihood (module docstring), per sample: (B, D) -> (B,), minus the
    constant ``offset`` (the smallest component constant), so values are >= 0; NLL = value + offset."""

    def __init__(
        self, gmm: GaussianMixture, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        prec = np.linalg.inv(gmm.covariances)
        logdet = np.linalg.slogdet(gmm.covariances)[1]
        const = -np.log(gmm.weights) + 0.5 * (logdet + gmm.means.shape[1] * _LOG_2PI)
        # shifted so the smallest constant is 0: the value is >= 0 and float32 sums of weighted priors keep their
        # resolution (-log N of a 63-D pose density is ~ -80 nats; x 404^2 it swamps the data term's digits)
        self.offset = float(const.min())
        const = const - self.offset
        self.register_buffer("means", torch.as_tensor(gmm.means, dtype=dtype, device=device))
        self.register_buffer(
            "precisions", torch.as_tensor(0.5 * (prec + prec.transpose(0, 2, 1)), dtype=dtype, device=device)
        )
        self.register_buffer("constants", torch.as_tensor(const, dtype=dtype, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.means.shape[1]:
            raise ValueError(f"MaxMixturePrior: expected (B, {self.means.shape[1]}), got {tuple(x.shape)}")
        diff = x[:, None, :] - self.means  # (B, K, D)
        quad = torch.einsum("bki,kij,bkj->bk", diff, self.precisions, diff)
        return (0.5 * quad + self.constants).min(dim=1).values


def _key(settings: dict[str, Any]) -> str:
    return config_hash(settings)


def body_pose_mixture(
    *,
    components: int = 8,
    samples: int = 20000,
    iters: int = 100,
    seed: int = 0,
    bank_config: Any = None,
    cache: bool = True,
) -> tuple[GaussianMixture, dict[str, Any]]:
    """The body-pose mixture fitted on ``samples`` bank poses (``ParameterBank(bank_config).sample(samples,
    seed=seed)['body_pose']``, (N, 63) radians), loaded from the cache when present.

    Returns the mixture and a summary {'path', 'cached', 'key', 'log_likelihood'}.
    """
    from bench.body.embedded.build import cache_root
    from datasets.bank import BankConfig, ParameterBank

    bank_config = bank_config if bank_config is not None else BankConfig()
    settings = {
        "version": PRIOR_VERSION,
        "bank": dataclasses.asdict(bank_config),
        "components": components,
        "samples": samples,
        "iters": iters,
        "seed": seed,
    }
    key = _key(settings)
    path = Path(cache_root()) / "priors" / f"body_pose_gmm-{key}.npz"
    if cache and path.is_file():
        with np.load(path, allow_pickle=False) as npz:
            gmm = GaussianMixture(npz["weights"], npz["means"], npz["covariances"])
            ll = float(npz["log_likelihood"])
        return gmm, {"path": str(path), "cached": True, "key": key, "log_likelihood": ll}
    poses = ParameterBank(bank_config).sample(samples, seed=seed)["body_pose"].reshape(samples, -1)
    gmm, history = fit_gmm(poses, components, iters=iters, seed=seed)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(
            tmp,
            **gmm.as_arrays(),
            log_likelihood=np.float64(history[-1]),
            settings=np.array(json.dumps(settings, sort_keys=True)),
        )
        tmp.replace(path)
    return gmm, {
        "path": str(path),
        "cached": False,
        "key": key,
        "log_likelihood": history[-1],
        "em_iterations": len(history) - 1,
    }
