"""Bidirectional scan-phase correction: subpixel estimation and lazy, vectorised correction.

A resonant scanner images every other line in the opposite direction; a timing error displaces
those lines sideways and gives cells a comb-like edge. Conventions (issue #12):

* The **offset** is how far the odd page rows (0-based page rows 1, 3, 5, ...) are displaced
  toward +x relative to the even rows: the scene point that an even row shows at column ``x``
  appears in the odd rows at column ``x + offset``.
* The **correction** moves the odd rows by ``-offset``: ``corrected[x] = raw[x + offset]`` on
  odd rows, even rows untouched.
* **Page-row parity**, not field-row parity, decides odd and even: a multi-ROI field may start
  on any page row, so every function takes ``row0``, the page row of the block's first row, and
  treats block row ``r`` as odd when ``(row0 + r) % 2 == 1``.
* Corrected pixels are ``float32`` (a subpixel shift is not an integer); raw data keeps the page
  dtype.
* A per-column offset array ``offset[x]`` (the x-dependent "auto-x" model) is indexed by the
  *corrected* column: ``corrected[x] = raw[x + offset[x]]`` on odd rows.

Functions:

* :func:`estimate_offset` -- one constant offset from a 2-D image (typically the mean of a sample
  of frames of one field and plane), to a few hundredths of a pixel on real-looking data.
* :func:`estimate_curve` -- an x-dependent offset: strip estimates fitted with an even polynomial.
* :func:`apply_offset` -- correct any ``(..., y, x)`` block (constant or per-column offset).
* :func:`columns_needed` and :func:`apply_offset_strip` -- correct a narrow column strip (pixel
  traces) bit-for-bit equal to the same columns of a full-plane correction.
* :func:`synthetic_bidi_image` -- neuron-like test scenes with a known offset.

Example::

    >>> import numpy as np
    >>> from si_explorer import bidi
    >>> image = bidi.synthetic_bidi_image((256, 256), offset=1.4, seed=1, frames=100)
    >>> est = bidi.estimate_offset(image)
    >>> round(est.offset, 1), est.reliable
    (1.4, True)
    >>> fixed = bidi.apply_offset(image, est.offset)          # float32, same shape
    >>> abs(bidi.estimate_offset(fixed).offset) < 0.05
    True
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BidiWarning",
    "CurveEstimate",
    "Estimate",
    "apply_offset",
    "apply_offset_strip",
    "columns_needed",
    "estimate_curve",
    "estimate_offset",
    "synthetic_bidi_image",
]

#: Interpolation order of :func:`apply_offset` when none is given: 1 (linear, 2 taps); 3
#: (Catmull-Rom cubic, 4 taps) blurs the odd rows less at about twice the correction's cost (a
#: corrected 512x512 int16 plane reads in about 2.8 and 4.6 raw plane read times, see
#: benchmarks/results/bidi.md).
DEFAULT_ORDER = 1

_TAPS = {1: (0, 1), 3: (-1, 0, 1, 2)}


class BidiWarning(UserWarning):
    """The image does not say what the offset is (flat, no x structure, noise only, ...)."""


@dataclass(frozen=True)
class Estimate:
    """A constant bidirectional offset and how much to trust it.

    Attributes:
        offset: odd-row displacement toward +x in pixels; 0.0 when not :attr:`reliable`.
        stderr: standard error of ``offset`` in pixels, from the spread of independent
            estimates on blocks of rows (NaN with fewer than 18 odd rows).
        quality: correlation (0..1) of the odd rows with their even neighbours at the
            estimated offset; about ``1/sqrt(pixels)`` for pure noise.
        reliable: False when the image cannot tell (then ``offset`` is 0.0 and a
            :class:`BidiWarning` was issued).
        reason: why it is not reliable ("" when it is).
        measured: the best offset found even when not reliable (for diagnostics only).
        rows: number of odd rows compared.
    """

    offset: float
    stderr: float
    quality: float
    reliable: bool
    reason: str = ""
    measured: float = 0.0
    rows: int = 0

    def __float__(self) -> float:
        return float(self.offset)


@dataclass(frozen=True)
class CurveEstimate:
    """An x-dependent offset (the "auto-x" model).

    Attributes:
        offsets: per-column offset (length ``width``, float64), indexed by corrected column;
            pass it straight to :func:`apply_offset`. All zeros when not :attr:`reliable`.
        coefficients: even-polynomial coefficients ``c0, c2, c4, ...`` of
            ``offset(x) = sum c_2j * u**2j`` with ``u = (x - centre) / (width / 2)``.
        centre: ``(width - 1) / 2``.
        strip_centres, strip_offsets, strip_stderr, strip_reliable: the strip estimates the
            curve was fitted to.
        constant: the constant-model :class:`Estimate` of the whole rows.
        reliable, reason: as for :class:`Estimate`; a curve that falls back to the constant
            model (too few reliable strips) is still reliable, with the reason saying so.
        residual_rms: weighted RMS (px) of the reliable strip estimates around the curve.
    """

    offsets: np.ndarray
    coefficients: np.ndarray
    centre: float
    strip_centres: np.ndarray
    strip_offsets: np.ndarray
    strip_stderr: np.ndarray
    strip_reliable: np.ndarray
    constant: Estimate
    reliable: bool
    reason: str = ""
    residual_rms: float = float("nan")
    extra: dict = field(default_factory=dict, repr=False)


# --- estimation ----------------------------------------------------------------------------------


def _odd_and_reference(image: np.ndarray, row0: int) -> tuple[np.ndarray, np.ndarray]:
    """The odd page rows and, for each, the mean of its even neighbours (float64)."""
    h = image.shape[0]
    odd = np.arange(1 - row0 % 2, h, 2)
    up, down = odd - 1, odd + 1
    has_up, has_down = up >= 0, down < h
    keep = has_up | has_down
    odd, up, down, has_up, has_down = odd[keep], up[keep], down[keep], has_up[keep], has_down[keep]
    img = image.astype(np.float64, copy=False)
    # Averaging the two neighbours puts the reference at the odd row's own y, so vertical
    # structure (which a single neighbour would bring along) does not leak into the x lag.
    ref = (
        img[np.clip(up, 0, h - 1)] * has_up[:, None]
        + img[np.clip(down, 0, h - 1)] * has_down[:, None]
    )
    ref /= (has_up.astype(np.float64) + has_down)[:, None]
    return img[odd], ref


def _hann(n: int) -> np.ndarray:
    # No zero end points: every column contributes something, which matters for 20-pixel rows.
    return np.hanning(n + 2)[1:-1]


class _Correlation:
    """Windowed cross-correlation of odd rows with their references, at any real lag.

    Rows are mean-removed and Hann-windowed (so the line ends do not add a spurious lag-0 peak,
    the bias of an unwindowed FFT correlation), zero-padded (a linear, not circular,
    correlation), and the row cross-spectra summed. The correlation at a real lag ``u`` is the
    band-limited (DFT) interpolation of the integer-lag correlation, divided by the same
    interpolation of the window's autocorrelation: the window's overlap shrinks with the lag,
    which without that division would pull the peak toward zero on short rows.
    """

    def __init__(self, odd: np.ndarray, ref: np.ndarray):
        n_rows, width = odd.shape
        w = _hann(width)
        a = (odd - odd.mean(axis=1, keepdims=True)) * w
        b = (ref - ref.mean(axis=1, keepdims=True)) * w
        self.n = n = 2 * width
        fa = np.fft.rfft(a, n=n, axis=1)
        fb = np.fft.rfft(b, n=n, axis=1)
        self.rows = fa * np.conj(fb)  # per-row cross-spectra, summed per row block for stderr
        # Frequencies where odd and even rows agree carry the offset; the others (high
        # frequencies at low SNR) only add noise. Weighting by the coherence measured over all
        # rows cuts the scatter by about 40 % on noisy mean images without adding any bias.
        coherence = np.abs(self.rows.sum(axis=0)) ** 2 / (
            (np.abs(fa) ** 2).sum(axis=0) * (np.abs(fb) ** 2).sum(axis=0) + 1e-300
        )
        self.rows *= np.sqrt(np.clip(coherence, 0.0, 1.0))
        self.plain_total = (fa * np.conj(fb)).sum(axis=0)
        fw = np.fft.rfft(w, n=n)
        self.window = (fw * np.conj(fw)).real
        self.window_zero_lag = float((w * w).sum())
        k = np.arange(fa.shape[1])
        gain = np.full(k.size, 2.0)
        gain[0] = 1.0
        if n % 2 == 0:
            gain[-1] = 1.0
        self.gain = gain / n
        self.omega = 2 * np.pi * k / n
        self.energy = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
        self.n_rows, self.width = n_rows, width
        # Effective independent samples of a windowed row, for the pure-noise level of quality.
        self.n_eff = n_rows * float((w**2).sum()) ** 2 / float((w**4).sum())

    def values(self, spectrum: np.ndarray, lags: np.ndarray, normalise=True) -> np.ndarray:
        phase = np.exp(1j * np.outer(lags, self.omega))
        c = (phase * (spectrum * self.gain)).real.sum(axis=1)
        if not normalise:
            return c
        a = (phase * (self.window * self.gain)).real.sum(axis=1)
        return c / np.maximum(a, 1e-12 * a.max())

    def peak(self, spectrum: np.ndarray, lo: int, hi: int) -> tuple[float, float, bool]:
        """Subpixel argmax of the normalised correlation on integer lags ``lo..hi``.

        Returns the lag, the correlation there, and whether the integer maximum sat on the
        edge of the search range (a peak beyond the range, or none at all).
        """
        lags = np.arange(lo, hi + 1, dtype=np.float64)
        # The integer search is not normalised: on short rows the division by the shrinking
        # window overlap would inflate far lags, where the overlap is small, into false peaks.
        c = self.values(spectrum, lags, normalise=False)
        i = int(np.argmax(c))
        on_edge = (i == 0 and lo > -self.width) or (i == c.size - 1)
        # A fine grid around the integer maximum, then Newton steps on the interpolated
        # correlation: a parabola through integer samples is biased on broad peaks.
        grid = lags[i] + np.linspace(-1.0, 1.0, 41)
        cg = self.values(spectrum, grid)
        u = float(grid[int(np.argmax(cg))])
        h = 1e-3
        for _ in range(8):
            cm, c0, cp = self.values(spectrum, np.array([u - h, u, u + h]))
            curvature = cp - 2 * c0 + cm
            if curvature >= 0:
                break
            step = -h * (cp - cm) / (2 * curvature)
            step = max(-0.05, min(0.05, step))
            u += step
            if abs(step) < 1e-5:
                break
        return u, float(self.values(spectrum, np.array([u]))[0]), on_edge


def _estimate_pair(
    odd: np.ndarray, ref: np.ndarray, lo: int, hi: int, min_z: float
) -> tuple[float, float, float, str]:
    """(offset, stderr, quality, reason) from odd rows and references; reason "" when good."""
    if odd.shape[0] == 0 or odd.shape[1] < 4:
        return 0.0, math.nan, 0.0, f"too small to compare rows ({odd.shape[0]} odd rows)"
    scale = float(np.abs(odd).max() + np.abs(ref).max()) + 1.0
    corr = _Correlation(odd, ref)
    if corr.energy <= (1e-9 * scale) ** 2 * odd.size:
        return 0.0, math.nan, 0.0, "the image has no structure along x"
    total = corr.rows.sum(axis=0)
    u, _, on_edge = corr.peak(total, lo, hi)
    quality = float(corr.values(corr.plain_total, np.array([u]))[0] * corr.window_zero_lag)
    quality = max(0.0, min(1.0, quality / corr.energy))
    # Spread of the estimate over blocks of rows: an honest error including scene content.
    stderr = math.nan
    blocks = min(8, corr.n_rows // 6)
    if blocks >= 3:
        ilo, ihi = math.floor(u) - 2, math.ceil(u) + 2
        parts = [
            corr.peak(s.sum(axis=0), ilo, ihi)[0] for s in np.array_split(corr.rows, blocks, axis=0)
        ]
        # Median absolute deviation: one block of a few rows locking onto a side lobe must not
        # make the whole estimate look uncertain.
        spread = 1.4826 * float(np.median(np.abs(np.asarray(parts) - np.median(parts))))
        stderr = spread / math.sqrt(blocks)
    z = quality * math.sqrt(corr.n_eff)
    if z < min_z:
        return (
            u,
            stderr,
            quality,
            (
                f"odd and even rows do not correlate (quality {quality:.3f}, "
                f"{z:.1f} noise standard deviations)"
            ),
        )
    if on_edge:
        return u, stderr, quality, f"the best offset is at the search limit ({lo}..{hi} px)"
    if stderr > 1.0:
        return u, stderr, quality, f"the estimate is too uncertain (stderr {stderr:.2f} px)"
    return u, stderr, quality, ""


def _as_image(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim < 2:
        raise ValueError(f"need a 2-D image (y, x), got shape {img.shape}")
    if img.ndim > 2:
        img = img.reshape(-1, *img.shape[-2:]).mean(axis=0)
    return img


def _search_range(width: int, max_offset: float | None) -> int:
    limit = max(1, width // 4)
    return limit if max_offset is None else max(1, min(int(math.ceil(max_offset)), limit))


def estimate_offset(
    image, row0: int = 0, *, max_offset: float | None = 10, min_z: float = 6.0
) -> Estimate:
    """Estimate the constant bidirectional offset of an image, to a fraction of a pixel.

    Each odd page row is compared with the mean of its two even neighbours by a windowed,
    zero-padded cross-correlation summed over all rows; the peak is located on the
    band-limited interpolation of that correlation (normalised by the window overlap).

    Args:
        image: a 2-D ``(y, x)`` array of any real dtype; more dimensions are averaged over
            the leading ones first. Use the mean of a sample of frames of one field and plane:
            the estimate needs signal, not single noisy frames.
        row0: page row of ``image[0]`` (parity decides which rows are odd).
        max_offset: largest ``|offset|`` searched (px), at most ``width // 4``.
        min_z: the correlation must exceed this many pure-noise standard deviations.

    Returns:
        An :class:`Estimate`. When the image cannot tell (flat, no structure along x, pure
        noise, peak at the search limit, fewer than 2 rows), ``offset`` is 0.0,
        ``reliable`` False, and a :class:`BidiWarning` is issued; never a wild number.

    >>> img = synthetic_bidi_image((128, 160), offset=-2.3, seed=3, frames=200)
    >>> round(estimate_offset(img).offset, 1)
    -2.3
    >>> abs(estimate_offset(img[1:], row0=1).offset - estimate_offset(img).offset) < 0.05
    True
    """
    img = _as_image(image)
    if img.shape[0] < 2 or img.shape[1] < 4:
        return _unreliable(0.0, math.nan, 0.0, f"image {img.shape} too small", 0)
    m = _search_range(img.shape[1], max_offset)
    odd, ref = _odd_and_reference(img, row0)
    u, stderr, quality, reason = _estimate_pair(odd, ref, -m, m, min_z)
    if reason:
        return _unreliable(u, stderr, quality, reason, odd.shape[0])
    return Estimate(float(u), stderr, quality, True, "", float(u), odd.shape[0])


def _unreliable(u, stderr, quality, reason, rows, warn=True) -> Estimate:
    if warn:
        warnings.warn(f"bidirectional offset set to 0: {reason}", BidiWarning, stacklevel=3)
    return Estimate(0.0, stderr, quality, False, reason, float(u), rows)


def estimate_curve(
    image,
    row0: int = 0,
    strips: int = 8,
    *,
    degree: int = 2,
    max_offset: float | None = 10,
    min_z: float = 6.0,
) -> CurveEstimate:
    """Estimate an x-dependent offset: strip estimates fitted with an even polynomial in x.

    A resonant mirror moves sinusoidally, so a timing error displaces pixels by an amount that
    varies smoothly and symmetrically along the line (proportional to the mirror velocity for a
    pure delay). The rows are cut into ``strips`` half-overlapping segments; each is estimated
    like :func:`estimate_offset` (searching within 3 px of the whole-row estimate), and
    ``c0 + c2 u**2 + ... + c_degree u**degree`` (``u`` = -1..1 across the line) is fitted by
    least squares weighted by the strips' standard errors, with one round of outlier rejection.

    Args:
        image, row0, max_offset, min_z: as for :func:`estimate_offset`.
        strips: number of strip estimates (at least 2; fewer if the rows are short).
        degree: highest even power fitted (0 gives the constant model).

    Returns:
        A :class:`CurveEstimate` whose ``offsets`` (length ``width``) go to
        :func:`apply_offset`. With too few reliable strips the curve is the constant estimate;
        when the whole image cannot tell, the offsets are zeros and a :class:`BidiWarning` is
        issued.

    >>> def truth(x):  # 2 px at the centre, less toward the line ends
    ...     return 2.0 * np.sqrt(1 - (0.9 * (x - 255.5) / 256) ** 2)
    >>> img = synthetic_bidi_image((256, 512), offset=truth, seed=0, frames=100)
    >>> curve = estimate_curve(img)
    >>> error = curve.offsets - truth(np.arange(512))
    >>> error_of_constant = curve.constant.offset - truth(np.arange(512))
    >>> bool(np.sqrt(np.mean(error**2)) < np.sqrt(np.mean(error_of_constant**2)) / 4)
    True
    """
    img = _as_image(image)
    width = img.shape[1]
    const = estimate_offset(img, row0, max_offset=max_offset, min_z=min_z)
    centre = (width - 1) / 2
    empty = np.zeros(0)
    if not const.reliable:
        return CurveEstimate(
            np.zeros(width), np.zeros(1), centre, empty, empty, empty, empty.astype(bool), const,
            False, const.reason,
        )  # fmt: skip
    odd, ref = _odd_and_reference(img, row0)
    strips = max(2, min(int(strips), width // 12))
    seg = int(2 * width // (strips + 1))
    starts = np.linspace(0, width - seg, strips).round().astype(int)
    m = _search_range(width, max_offset)
    guess = int(round(const.offset))
    lo, hi = max(-m, guess - 3), min(m, guess + 3)
    results = [
        _estimate_pair(odd[:, s : s + seg], ref[:, s : s + seg], lo, hi, min_z) for s in starts
    ]
    centres = starts + (seg - 1) / 2
    offs = np.array([r[0] for r in results])
    errs = np.array([r[1] for r in results])
    good = np.array([not r[3] for r in results])
    if np.isnan(errs[good]).any():
        errs = np.where(
            np.isnan(errs), np.nanmedian(errs) if np.isfinite(errs).any() else 0.1, errs
        )
    u = (centres - centre) / (width / 2)
    powers = np.arange(0, int(degree) + 1, 2)
    n_par = powers.size
    reason = ""
    coef = np.array([const.offset])
    rms = math.nan
    if good.sum() < n_par + 1:
        reason = f"only {int(good.sum())} reliable strips: constant model used"
    else:
        use = good.copy()
        for _ in range(2):
            wts = 1 / np.maximum(errs[use], 0.02)
            design = u[use, None] ** powers
            coef = np.linalg.lstsq(design * wts[:, None], offs[use] * wts, rcond=None)[0]
            resid = (offs - (u[:, None] ** powers) @ coef) / np.maximum(errs, 0.02)
            spread = max(1.0, float(np.sqrt(np.mean(resid[use] ** 2))))
            outliers = use & (np.abs(resid) > 4 * spread)
            if not outliers.any() or (use & ~outliers).sum() < n_par + 1:
                break
            use &= ~outliers
        rms = float(np.sqrt(np.mean((offs[use] - (u[use, None] ** powers) @ coef) ** 2)))
    if coef.size < n_par:
        coef = np.concatenate([coef, np.zeros(n_par - coef.size)])
    x = (np.arange(width) - centre) / (width / 2)
    # Extrapolated beyond the outer strip centres (the last ~1/(strips+1) of the line at each
    # end): the offset is steepest there, and holding it flat would miss most of the change.
    offsets = (x[:, None] ** powers) @ coef
    return CurveEstimate(offsets, coef, centre, centres, offs, errs, good, const, True, reason, rms)


# --- correction ----------------------------------------------------------------------------------


def _weights(frac, order: int) -> list:
    """Interpolation weights of the taps ``_TAPS[order]`` for fractional positions ``frac``."""
    f = np.asarray(frac, dtype=np.float64)
    if order == 1:
        w = [1 - f, f]
    elif order == 3:
        # Catmull-Rom (Keys, a = -0.5): interpolating, third-order accurate, 4 taps.
        f2, f3 = f * f, f * f * f
        w = [
            -0.5 * f3 + f2 - 0.5 * f,
            1.5 * f3 - 2.5 * f2 + 1,
            -1.5 * f3 + 2 * f2 + 0.5 * f,
            0.5 * f3 - 0.5 * f2,
        ]
    else:
        raise ValueError(f"order must be 1 (linear) or 3 (cubic), not {order!r}")
    return [np.float32(v) if v.ndim == 0 else v.astype(np.float32) for v in w]


@dataclass(frozen=True)
class _Plan:
    """Where each corrected odd-row column reads from: ``sum_j w[j] * raw[base + taps[j]]``."""

    constant: bool
    base: int | np.ndarray  # int shift (constant) or per-column source base (length width)
    taps: tuple[int, ...]
    weights: list

    def sources(self, x0: int, x1: int, width: int) -> list[np.ndarray]:
        x = np.arange(x0, x1)
        base = x + self.base if self.constant else self.base[x0:x1]
        return [np.clip(base + t, 0, width - 1) for t in self.taps]


def _offset_value(offset):
    if isinstance(offset, Estimate):
        return float(offset.offset)
    if isinstance(offset, CurveEstimate):
        return np.asarray(offset.offsets, dtype=np.float64)
    arr = np.asarray(offset, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _plan(offset, width: int, order: int | None) -> _Plan:
    order = DEFAULT_ORDER if order is None else int(order)
    if order not in _TAPS:
        raise ValueError(f"order must be 1 (linear) or 3 (cubic), not {order!r}")
    value = _offset_value(offset)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"offset must be finite, not {value!r}")
        return _constant_plan(value, order)
    if value.shape != (width,):
        raise ValueError(f"a per-column offset needs shape ({width},), not {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError("per-column offsets must be finite")
    pos = np.arange(width) + value
    base = np.floor(pos)
    return _Plan(False, base.astype(np.intp), _TAPS[order], _weights(pos - base, order))


@functools.lru_cache(maxsize=256)
def _constant_plan(value: float, order: int) -> _Plan:
    # Cached: a plane read is a few hundred microseconds, and building the plan costs several.
    n = math.floor(value)
    frac = value - n
    if frac == 0.0:
        # Integer offsets are an exact copy: no interpolation, no blur.
        return _Plan(True, n, (0,), [np.float32(1.0)])
    return _Plan(True, n, _TAPS[order], _weights(frac, order))


def _correct_odd(src: np.ndarray, plan: _Plan, x0: int, x1: int, c0: int, width: int, out):
    """Corrected columns ``x0:x1`` of the odd rows ``src`` (raw columns ``c0:``, any dtype) into
    the float32 ``out``.

    The full-plane and strip paths both come here and do the same float32 arithmetic per pixel
    (:func:`_combine`), so a strip is bit-for-bit the same as those columns of a full plane.
    """
    if plan.constant and plan.taps != (0,):
        _shifted(src, plan, x0, x1, c0, width, out)
        return
    if plan.constant:
        # An integer offset: a copy, with the columns whose source is beyond the row repeating
        # the edge column.
        n = plan.base
        a = min(max(x0, -n), x1)
        b = max(min(x1, width - n), a)
        np.copyto(out[..., a - x0 : b - x0], src[..., a + n - c0 : b + n - c0], casting="unsafe")
        if a > x0:
            np.copyto(out[..., : a - x0], src[..., -c0 : 1 - c0], casting="unsafe")
        if x1 > b:
            np.copyto(out[..., b - x0 :], src[..., width - 1 - c0 : width - c0], casting="unsafe")
        return
    # A per-column offset: each tap's source columns gathered into a contiguous array (the
    # arithmetic then runs on contiguous data, the weights broadcast along the rows).
    terms = []
    for idx in plan.sources(x0, x1, width):
        terms.append(np.empty(out.shape, np.float32))
        _copy_columns(src, idx - c0, terms[-1])
    _combine(terms, plan, [w[x0:x1] for w in plan.weights], terms[0], own_terms=True)
    np.copyto(out, terms[0])


def _shifted(src, plan: _Plan, x0: int, x1: int, c0: int, width: int, out) -> None:
    """A constant subpixel offset: every tap of every pixel is the same shift along the row, so
    all odd rows are one flat 1-D shifted operation on a contiguous float32 copy of them. Each
    row of the copy is padded on both sides with repeats of its edge value, wide enough for
    every tap, so that the flat shift never reads a neighbouring row and the edge columns
    (sources clipped to the row) need no second pass.

    Measured on a 512x512 int16 plane (numpy 2.4, 2 shared cores): ufuncs on row-sliced 2-D
    views run 2-3x slower than on contiguous 1-D data, while casts and copies into or from
    row-strided views (np.copyto) run at about contiguous speed; so the arithmetic is flat and
    only the cast in and the copy out touch the interleaved rows. With the even-row cast in
    apply_offset that is six passes over half a plane, 20-65 us each, 3-4.5 times an
    astype(float32) of the plane in all: numpy has no fused operation that rounds like
    ``s0 + (s1 - s0) * frac``. Blocks of rows small enough to stay in the L2 cache, an int16
    copy with casting ufuncs, and writing the last operation straight into the interleaved
    output all measured slower or no faster.
    """
    n, ncol = plan.base, src.shape[-1]
    # Padding: tap t of corrected column x reads source column x + n + t, clipped to the plane
    # (only strips that touch a plane edge can reach past their own columns).
    left = max(0, -(n + plan.taps[0]) - (x0 - c0))
    right = max(0, x1 - 1 + n + plan.taps[-1] - (c0 + ncol - 1))
    tmp = np.empty((*src.shape[:-1], left + ncol + right), np.float32)
    np.copyto(tmp[..., left : left + ncol], src, casting="unsafe")
    if left:
        np.copyto(tmp[..., :left], tmp[..., left : left + 1])
    if right:
        np.copyto(tmp[..., left + ncol :], tmp[..., left + ncol - 1 : left + ncol])
    res = np.empty_like(tmp)
    flat, rflat = tmp.reshape(-1), res.reshape(-1)
    # res column j is corrected column c0 - left + j; its tap t reads tmp column j + n + t.
    k0, k1 = max(0, -(n + plan.taps[0])), min(flat.size, flat.size - (n + plan.taps[-1]))
    if k1 > k0:
        terms = [flat[k0 + n + t : k1 + n + t] for t in plan.taps]
        _combine(terms, plan, plan.weights, rflat[k0:k1])
    np.copyto(out, res[..., left + x0 - c0 : left + x1 - c0])


def _combine(terms, plan: _Plan, weights, out, own_terms: bool = False) -> None:
    """The interpolation arithmetic, in float32, one definition for every path: linear with a
    constant offset as ``s0 + (s1 - s0) * frac``; otherwise the first tap times its weight, then
    each further tap's product added. ``own_terms``: the terms are scratch and may be
    overwritten."""
    if plan.constant and len(terms) == 2:
        np.subtract(terms[1], terms[0], out=out)
        out *= weights[1]
        out += terms[0]
        return
    np.multiply(terms[0], weights[0], out=out)
    for s, w in zip(terms[1:], weights[1:]):
        out += np.multiply(s, w, out=s if own_terms else None)


def _copy_columns(src, idx: np.ndarray, dst) -> None:
    """``dst[..., j] = src[..., idx[j]]`` (cast to dst's dtype) as sliced copies: one per run of
    consecutive indices and one broadcast copy per run of a repeated index (a clipped edge).
    Measured on 256x512 float32: np.take along x is 5-10x slower than sliced copies."""
    step = idx[1:] - idx[:-1]
    # A run starts at 0, after a jump (a step other than 0 or 1), and where the step changes.
    starts = np.empty(len(idx), dtype=bool)
    starts[0] = True
    np.not_equal(step, 0, out=starts[1:])
    starts[1:] &= step != 1
    starts[1:-1] |= step[1:] != step[:-1]
    bounds = [*np.flatnonzero(starts).tolist(), len(idx)]
    for j0, j1 in zip(bounds[:-1], bounds[1:]):
        i = int(idx[j0])
        if j1 - j0 > 1 and step[j0] == 1:
            np.copyto(dst[..., j0:j1], src[..., i : i + j1 - j0], casting="unsafe")
        else:
            np.copyto(dst[..., j0:j1], src[..., i : i + 1], casting="unsafe")


def _odd_start(row0: int) -> int:
    return 1 - int(row0) % 2


def apply_offset(block, offset, row0: int = 0, axis_y: int = -2, axis_x: int = -1, *, order=None):
    """Correct the bidirectional offset of any ``(..., y, x)`` block; returns ``float32``.

    Odd page rows are moved by ``-offset`` along x: ``out[x] = raw[x + offset]`` (or
    ``raw[x + offset[x]]``), interpolated between the neighbouring raw columns; even rows are
    converted unchanged. Integer constant offsets are an exact copy.

    Args:
        block: a numpy array with y and x axes anywhere (e.g. a plane ``(y, x)``, a time block
            ``(t, y, x)``, or the 5-D ``(field, time, z, y, x)``). Any real dtype; not modified.
            For a dask array use ``data.map_blocks(apply_offset, offset, row0=...,
            dtype=np.float32)`` with chunks spanning all of x and each chunk's own ``row0``.
        offset: a float, an :class:`Estimate`, a length-``width`` per-column array, or a
            :class:`CurveEstimate`.
        row0: page row of the block's first row along ``axis_y`` (parity of the page rows).
        axis_y, axis_x: the y and x axes of ``block``.
        order: 1 (linear, default :data:`DEFAULT_ORDER`) or 3 (Catmull-Rom cubic, sharper,
            about twice the cost).

    Edges: a corrected column whose source lies beyond the row reads the nearest raw column
    (edge value), so the first or last ``ceil(|offset|)`` columns of odd rows repeat the edge.

    >>> raw = np.arange(12, dtype=np.int16).reshape(2, 6)
    >>> apply_offset(raw, 1.0)          # row 1 is odd: moved left by one column
    array([[ 0.,  1.,  2.,  3.,  4.,  5.],
           [ 7.,  8.,  9., 10., 11., 11.]], dtype=float32)
    >>> apply_offset(raw, 0.5, row0=1)[0]  # now row 0 is the odd page row
    array([0.5, 1.5, 2.5, 3.5, 4.5, 5. ], dtype=float32)
    """
    arr = np.asarray(block)
    if arr.ndim < 2:
        raise ValueError(f"need at least 2 dimensions (y, x), got shape {arr.shape}")
    moved = (axis_y, axis_x) not in ((-2, -1), (arr.ndim - 2, arr.ndim - 1))
    view = np.moveaxis(arr, (axis_y, axis_x), (-2, -1)) if moved else arr
    width = view.shape[-1]
    plan = _plan(offset, width, order)
    out = np.empty(view.shape, dtype=np.float32)
    start = _odd_start(row0)
    np.copyto(out[..., 1 - start :: 2, :], view[..., 1 - start :: 2, :], casting="unsafe")
    if width:
        _correct_odd(view[..., start::2, :], plan, 0, width, 0, width, out[..., start::2, :])
    return np.moveaxis(out, (-2, -1), (axis_y, axis_x)) if moved else out


def columns_needed(x0: int, x1: int, offset, width: int, *, order=None) -> tuple[int, int]:
    """The raw column range ``c0:c1`` needed to correct columns ``x0:x1`` of a plane.

    For pixel traces that read only a few bytes per page: read ``raw[..., c0:c1]`` and pass it
    to :func:`apply_offset_strip`. Covers both the even rows (``x0:x1`` itself) and the odd
    rows' interpolation taps, clipped to ``0:width``. ``offset`` and ``order`` as for
    :func:`apply_offset`.

    >>> columns_needed(100, 101, 2.3, 512)            # linear: raw columns 102 and 103
    (100, 104)
    >>> columns_needed(0, 4, -1.5, 512, order=3)     # cubic taps clipped at column 0
    (0, 4)
    """
    x0, x1 = int(x0), int(x1)
    if not 0 <= x0 < x1 <= width:
        raise ValueError(f"columns {x0}:{x1} are not a non-empty range inside 0:{width}")
    plan = _plan(offset, width, order)
    src = plan.sources(x0, x1, width)
    return min(x0, *(int(s.min()) for s in src)), max(x1, *(int(s.max()) + 1 for s in src))


def apply_offset_strip(
    strip,
    offset,
    *,
    x0: int,
    x1: int,
    c0: int,
    width: int,
    row0: int = 0,
    axis_y: int = -2,
    axis_x: int = -1,
    order=None,
):
    """Correct columns ``x0:x1`` from a strip of raw columns starting at column ``c0``.

    ``strip`` holds raw columns ``c0:c1`` of a ``width``-column plane (any leading axes, all
    rows of the field along ``axis_y`` starting at page row ``row0``), with ``(c0, c1)`` from
    :func:`columns_needed` (or any range containing it). The result (``float32``, x length
    ``x1 - x0``) equals ``apply_offset(full, offset, row0)[..., x0:x1]`` exactly.

    >>> plane = synthetic_bidi_image((32, 64), offset=0.7, seed=0)
    >>> c0, c1 = columns_needed(10, 12, 0.7, 64)
    >>> strip = apply_offset_strip(plane[:, c0:c1], 0.7, x0=10, x1=12, c0=c0, width=64)
    >>> bool((strip == apply_offset(plane, 0.7)[:, 10:12]).all())
    True
    """
    arr = np.asarray(strip)
    moved = (axis_y, axis_x) not in ((-2, -1), (arr.ndim - 2, arr.ndim - 1))
    view = np.moveaxis(arr, (axis_y, axis_x), (-2, -1)) if moved else arr
    x0, x1, c0 = int(x0), int(x1), int(c0)
    plan = _plan(offset, width, order)
    need = columns_needed(x0, x1, offset, width, order=order)
    if need[0] < c0 or need[1] > c0 + view.shape[-1]:
        raise ValueError(
            f"strip covers columns {c0}:{c0 + view.shape[-1]}, correction needs {need[0]}:{need[1]}"
        )
    out = np.empty((*view.shape[:-1], x1 - x0), dtype=np.float32)
    start = _odd_start(row0)
    np.copyto(
        out[..., 1 - start :: 2, :], view[..., 1 - start :: 2, x0 - c0 : x1 - c0], casting="unsafe"
    )
    _correct_odd(view[..., start::2, :], plan, x0, x1, c0, width, out[..., start::2, :])
    return np.moveaxis(out, (-2, -1), (axis_y, axis_x)) if moved else out


# --- synthetic data ------------------------------------------------------------------------------


def synthetic_bidi_image(
    shape=(512, 512),
    offset: float | Callable[[np.ndarray], np.ndarray] = 0.0,
    *,
    seed: int = 0,
    row0: int = 0,
    frames: int = 10,
    clean: bool = False,
    dtype=None,
) -> np.ndarray:
    """A neuron-like mean image whose odd page rows are displaced by a known offset.

    The scene (same for a given ``seed`` and ``shape``, whatever the offset) is a sum of
    Gaussian somata (a third of them with a dark nucleus) on smooth neuropil and a vignetting
    gradient, evaluated analytically at the displaced positions, so the offset is exact to
    machine precision. Noise is Poisson: a mean of ``frames`` frames at about 1 photon per
    pixel per frame of background and 1.5-6 photons of soma signal (low SNR), scaled to about
    20 counts per photon on a 100-count baseline.

    Args:
        shape: ``(height, width)``.
        offset: constant offset (px), or a function of the scene column giving the
            x-dependent offset; the scene point at ``x`` appears in odd rows at
            ``x + offset(x)``.
        seed: scene and noise seed.
        row0: page row of the first row (parity).
        frames: frames averaged (more frames, less noise).
        clean: return the noise-free image.
        dtype: cast (rounded, clipped) to this dtype, e.g. ``"int16"``; float64 otherwise.
    """
    h, w = (int(v) for v in shape)
    rng = np.random.default_rng(seed)
    n_cells = max(3, int(h * w / 700))
    cx = rng.uniform(-8, w + 8, n_cells)
    cy = rng.uniform(-8, h + 8, n_cells)
    sig = rng.uniform(2.0, 4.0, n_cells)
    amp = rng.uniform(1.5, 6.0, n_cells)
    donut = rng.random(n_cells) < 1 / 3
    n_bg = max(2, int(h * w / 12000))
    bx, by = rng.uniform(0, w, n_bg), rng.uniform(0, h, n_bg)
    bsig, bamp = rng.uniform(15, 60, n_bg), rng.uniform(0.2, 0.8, n_bg)
    gx, gy = rng.uniform(-0.3, 0.3, 2)
    noise_rng = np.random.default_rng([seed, 1])

    rows = np.arange(h)
    odd_rows = (row0 + rows) % 2 == 1
    cols = np.arange(w, dtype=np.float64)
    if callable(offset):
        # Odd-row column X shows the scene point p with p + offset(p) = X (fixed point).
        p = cols.copy()
        for _ in range(50):
            p = cols - np.asarray(offset(p), dtype=np.float64)
        odd_x = p
    else:
        odd_x = cols - float(offset)

    def gauss(pos, centre, s):
        return np.exp(-0.5 * ((pos[None, :] - centre[:, None]) / s[:, None]) ** 2)

    def render(x):
        # Separable Gaussians: sum over blobs of gy(y) gx(x) is one matrix product.
        sx, sy = np.concatenate([sig, sig * 0.45]), np.concatenate([sig, sig * 0.45])
        ax = np.concatenate([amp, -0.8 * amp * donut])
        gxs = gauss(x, np.concatenate([cx, cx]), sx)
        gys = gauss(rows.astype(np.float64), np.concatenate([cy, cy]), sy) * ax[:, None]
        img = gys.T @ gxs
        img += (gauss(rows.astype(np.float64), by, bsig) * bamp[:, None]).T @ gauss(x, bx, bsig)
        img += 1.0 + gx * (x[None, :] / w - 0.5) + gy * (rows[:, None] / h - 0.5)
        return img

    scene = np.where(odd_rows[:, None], render(odd_x), render(cols))
    scene = np.maximum(scene, 0.05)
    if not clean:
        scene = noise_rng.poisson(scene * frames) / frames
    image = 100.0 + 20.0 * scene
    if dtype is None:
        return image
    info = np.iinfo(dtype) if np.issubdtype(np.dtype(dtype), np.integer) else None
    if info is not None:
        image = np.clip(np.round(image), info.min, info.max)
    return image.astype(dtype)
