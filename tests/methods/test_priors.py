"""EM Gaussian mixture and the max-mixture pose prior (methods/priors.py)."""

from __future__ import annotations

import numpy as np
import torch

from methods.priors import GaussianMixture, MaxMixturePrior, body_pose_mixture, fit_gmm


def _two_blobs(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = np.array([[-3.0, 0.0, 1.0], [3.0, 1.0, -1.0]])
    labels = rng.random(n) < 0.3
    x = rng.normal(0.0, 0.5, (n, 3)) + np.where(labels[:, None], means[0], means[1])
    return x, means


def test_em_log_likelihood_never_decreases():
    x, _ = _two_blobs()
    _, history = fit_gmm(x, 3, iters=30, seed=1, tol=0.0)
    assert len(history) > 5
    assert np.all(np.diff(history) >= -1e-9)
    assert history[-1] > history[0]


def test_em_recovers_the_means_and_weights_of_a_known_two_component_mixture():
    x, means = _two_blobs()
    gmm, _ = fit_gmm(x, 2, iters=100, seed=0)
    order = np.argsort(gmm.means[:, 0])
    np.testing.assert_allclose(gmm.means[order], means, atol=0.06)
    np.testing.assert_allclose(gmm.weights[order], [0.3, 0.7], atol=0.03)
    np.testing.assert_allclose(gmm.covariances[order], np.tile(0.25 * np.eye(3), (2, 1, 1)), atol=0.04)


def test_max_mixture_prior_is_the_closest_component_nll_minus_its_offset():
    gmm = GaussianMixture(np.array([0.25, 0.75]), np.array([[0.0, 0.0], [4.0, 0.0]]),
                          np.stack([np.eye(2), 2.0 * np.eye(2)]))  # fmt: skip
    prior = MaxMixturePrior(gmm, dtype=torch.float64)
    x = torch.tensor([[0.0, 0.0], [4.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    nll = []
    for k in range(2):
        cov = gmm.covariances[k]
        d = x.numpy() - gmm.means[k]
        quad = np.einsum("bi,ij,bj->b", d, np.linalg.inv(cov), d)
        nll.append(0.5 * quad - np.log(gmm.weights[k]) + 0.5 * np.log(np.linalg.det(2 * np.pi * cov)))
    expected = np.min(nll, axis=0)
    np.testing.assert_allclose(prior(x).numpy() + prior.offset, expected, rtol=1e-12)
    assert (prior(x) >= 0).all()
    grad_x = x.clone().requires_grad_(True)
    prior(grad_x).sum().backward()
    assert torch.isfinite(grad_x.grad).all()


def test_body_pose_mixture_is_cached_by_its_settings(embedded_cache):
    gmm, info = body_pose_mixture(components=2, samples=300, iters=5, seed=3)
    assert not info["cached"] and gmm.means.shape == (2, 63)
    again, info2 = body_pose_mixture(components=2, samples=300, iters=5, seed=3)
    assert info2["cached"] and info2["path"] == info["path"]
    np.testing.assert_array_equal(again.means, gmm.means)
    _, other = body_pose_mixture(components=2, samples=300, iters=5, seed=4)
    assert other["key"] != info["key"]
