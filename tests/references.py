"""Straightforward references the fast paths are checked against (no shared code with them)."""

from __future__ import annotations

import numpy as np


def caiman_local_correlations(movie) -> np.ndarray:
    """The local correlation image of a (time, y, x) movie as CaImAn's ``local_correlations``
    (eight neighbours) computes it: each pixel's time series normalised (population std), the
    mean over time of its product with each neighbour's, averaged over the neighbours it has.
    CaImAn gives NaN for a pair with a pixel that never varies; here that pair counts 0."""
    movie = np.asarray(movie, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = (movie - movie.mean(axis=0)) / movie.std(axis=0)
    w[:, ~np.isfinite(w).all(axis=0)] = 0.0
    rho = np.zeros(movie.shape[1:])
    south = (w[:, :-1] * w[:, 1:]).mean(axis=0)
    east = (w[:, :, :-1] * w[:, :, 1:]).mean(axis=0)
    up_right = (w[:, 1:, :-1] * w[:, :-1, 1:]).mean(axis=0)
    down_right = (w[:, :-1, :-1] * w[:, 1:, 1:]).mean(axis=0)
    rho[:-1] += south
    rho[1:] += south
    rho[:, :-1] += east
    rho[:, 1:] += east
    rho[1:, :-1] += up_right
    rho[:-1, 1:] += up_right
    rho[:-1, :-1] += down_right
    rho[1:, 1:] += down_right
    kernel_sum = np.zeros(movie.shape[1:])  # how many of the 8 neighbours each pixel has
    ones = np.pad(np.ones(movie.shape[1:]), 1)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                kernel_sum += ones[1 + dy : 1 + dy + rho.shape[0], 1 + dx : 1 + dx + rho.shape[1]]
    return rho / kernel_sum
