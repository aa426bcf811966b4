"""Bidirectional scan-phase estimation and correction (si_explorer.bidi, issue #12)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from si_explorer import bidi
from si_explorer.bidi import BidiWarning


def reference_correction(raw, offset, row0=0, order=1):
    """A straightforward correction to check the fast paths against (no shared code): each odd
    page row on its own, every tap gathered with clipped column indices, float32 arithmetic in
    the documented order (linear constant: ``s0 + (s1 - s0) * frac``; otherwise the first tap
    times its weight, then each further product added; an integer offset copies)."""
    raw = np.asarray(raw)
    width = raw.shape[-1]
    out = raw.astype(np.float32)
    constant = np.ndim(offset) == 0
    x = np.arange(width)
    if constant:
        shift = np.floor(float(offset))
        base, frac = x + int(shift), np.full(width, float(offset) - shift)
    else:
        pos = x + np.asarray(offset, dtype=np.float64)
        base = np.floor(pos).astype(int)
        frac = pos - base
    if order == 1:
        taps, weights = (0, 1), [1 - frac, frac]
    else:
        f = frac
        taps = (-1, 0, 1, 2)
        weights = [
            -0.5 * f**3 + f**2 - 0.5 * f,
            1.5 * f**3 - 2.5 * f**2 + 1,
            -1.5 * f**3 + 2 * f**2 + 0.5 * f,
            0.5 * f**3 - 0.5 * f**2,
        ]
    weights = [w.astype(np.float32) for w in weights]
    for r in range(raw.shape[-2]):
        if (row0 + r) % 2 == 0:
            continue
        row = raw[..., r, :].astype(np.float32)
        s = [row[..., np.clip(base + t, 0, width - 1)] for t in taps]
        if constant and frac[0] == 0:
            out[..., r, :] = s[taps.index(0)]
        elif constant and order == 1:
            out[..., r, :] = s[0] + (s[1] - s[0]) * weights[1][0]
        else:
            acc = s[0] * weights[0]
            for term, w in zip(s[1:], weights[1:]):
                acc = acc + term * w
            out[..., r, :] = acc
    return out


def _same_bits(a, b):
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize("dtype", ["int16", "uint16", "float32"])
@pytest.mark.parametrize("shape", [(20, 20), (21, 20), (7, 33), (2, 3, 15, 64)])
def test_fast_paths_equal_a_straightforward_reference(dtype, shape):
    """Bit for bit, for random constant, integer and per-column offsets, both orders, both
    parities, tiny pages, odd heights, leading axes, and narrow strips of columns."""
    rng = np.random.default_rng([*map(ord, dtype), *shape])
    width = shape[-1]
    if dtype == "float32":
        raw = rng.normal(1000, 500, shape).astype(dtype)
    else:  # the whole range: differences of neighbours beyond the dtype's own range
        info = np.iinfo(dtype)
        raw = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    offsets = [
        *rng.uniform(-6, 6, 3),
        0.5,
        float(rng.integers(-5, 6)),
        0.0,
        rng.uniform(-3, 3, width),
        1.5 + 1.2 * np.cos(np.linspace(-1.2, 1.2, width)),
        np.round(rng.uniform(-3, 3, width)),
    ]
    for offset in offsets:
        for order in (1, 3):
            for row0 in (0, 1):
                want = reference_correction(raw, offset, row0, order)
                _same_bits(bidi.apply_offset(raw, offset, row0=row0, order=order), want)
                a = int(rng.integers(0, width))
                b = int(rng.integers(a + 1, width + 1))
                for x0, x1 in [(a, b), (0, 1), (width - 1, width)]:
                    c0, c1 = bidi.columns_needed(x0, x1, offset, width, order=order)
                    strip = bidi.apply_offset_strip(
                        raw[..., c0:c1], offset, x0=x0, x1=x1, c0=c0, width=width, row0=row0,
                        order=order,
                    )  # fmt: skip
                    _same_bits(strip, want[..., x0:x1])


def _quiet_estimate(image, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", BidiWarning)  # a reliable estimate must not warn
        return bidi.estimate_offset(image, **kw)


@pytest.mark.parametrize("offset", [0.6, -2.3, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_requirement_with_noise(offset, seed):
    """The issue's requirement: within 0.05 px on noisy neuron-like mean images."""
    image = bidi.synthetic_bidi_image((512, 512), offset, seed=seed, frames=50)
    est = _quiet_estimate(image)
    assert est.reliable and abs(est.offset - offset) < 0.05
    assert 0 < est.stderr < 0.05 and est.quality > 0.5


@pytest.mark.parametrize("offset", [0.6, -2.3, 1.0])
def test_accuracy_smaller_page(offset):
    for seed in (0, 1):
        image = bidi.synthetic_bidi_image((256, 256), offset, seed=seed, frames=50)
        assert abs(_quiet_estimate(image).offset - offset) < 0.05


@pytest.mark.parametrize("offset", [0, 2, -3, 0.25, -0.5, 1.75])
@pytest.mark.parametrize("row0", [0, 1, 6, 7])
def test_known_offsets_both_parities(offset, row0):
    image = bidi.synthetic_bidi_image((128, 192), offset, seed=4, row0=row0, clean=True)
    assert abs(_quiet_estimate(image, row0=row0).offset - offset) < 0.02
    # The wrong parity sees the opposite displacement.
    assert abs(_quiet_estimate(image, row0=row0 + 1).offset + offset) < 0.02


@pytest.mark.parametrize("dtype", ["int16", "uint16"])
def test_integer_dtypes(dtype):
    image = bidi.synthetic_bidi_image((256, 256), -1.4, seed=5, frames=100, dtype=dtype)
    assert image.dtype == np.dtype(dtype)
    assert abs(_quiet_estimate(image).offset + 1.4) < 0.05
    fixed = bidi.apply_offset(image, -1.4)
    assert fixed.dtype == np.float32 and fixed.shape == image.shape
    assert (fixed[0::2] == image[0::2]).all()  # even rows unchanged


def test_apply_then_estimate_gives_zero():
    image = bidi.synthetic_bidi_image((256, 256), 0.6, seed=6, frames=100)
    for order in (1, 3):
        fixed = bidi.apply_offset(image, bidi.estimate_offset(image), order=order)
        assert abs(_quiet_estimate(fixed).offset) < 0.05


def test_flat_and_x_flat_images_give_zero_with_warning():
    flat = np.full((64, 64), 1000, dtype=np.int16)
    ramp_y = np.repeat(np.arange(64, dtype=np.int16)[:, None] * 7, 64, axis=1)
    for image in (flat, ramp_y):
        with pytest.warns(BidiWarning, match="no structure along x"):
            est = bidi.estimate_offset(image)
        assert est.offset == 0.0 and not est.reliable and est.reason


@pytest.mark.parametrize("seed", range(5))
def test_pure_noise_is_not_a_wild_number(seed):
    noise = np.random.default_rng(seed).poisson(50, (128, 128)).astype(np.uint16)
    with pytest.warns(BidiWarning, match="do not correlate"):
        est = bidi.estimate_offset(noise)
    assert est.offset == 0.0 and not est.reliable and est.quality < 0.1


@pytest.mark.parametrize("seed", range(4))
def test_tiny_pages(seed):
    for offset in (0.6, -2.3, 1.0):
        image = bidi.synthetic_bidi_image((20, 20), offset, seed=seed, frames=200, dtype="int16")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BidiWarning)
            est = bidi.estimate_offset(image)
            curve = bidi.estimate_curve(image)
        assert np.isfinite(est.offset) and abs(est.offset) <= 5
        assert est.offset == 0.0 or abs(est.offset - offset) < 1.5  # 10 odd rows: rough
        assert curve.offsets.shape == (20,) and np.isfinite(curve.offsets).all()
        assert bidi.apply_offset(image, est).shape == (20, 20)
    for shape in [(1, 20), (2, 3), (3, 20)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BidiWarning)
            assert np.isfinite(bidi.estimate_offset(np.ones(shape)).offset)


def test_apply_constant_semantics():
    raw = np.arange(40, dtype=np.int16).reshape(4, 10)
    out = bidi.apply_offset(raw, 2)  # integer: exact copy of odd rows moved left, edge repeated
    assert (out[1, :8] == raw[1, 2:]).all() and (out[1, 8:] == raw[1, 9]).all()
    assert (out[0] == raw[0]).all() and (out[2] == raw[2]).all()
    half = bidi.apply_offset(raw, -0.5, row0=1)  # row0 odd: rows 0 and 2 are the odd page rows
    assert np.allclose(half[0, 1:], (raw[0, :-1] + raw[0, 1:]) / 2)
    assert half[0, 0] == raw[0, 0] and (half[1] == raw[1]).all()


def test_apply_axes_and_leading_dims():
    block = np.random.default_rng(0).integers(0, 1000, (3, 16, 24)).astype(np.int16)
    ref = bidi.apply_offset(block, 1.3, row0=1)
    for i in range(3):
        assert (ref[i] == bidi.apply_offset(block[i], 1.3, row0=1)).all()
    moved = np.moveaxis(block, (1, 2), (2, 0))  # (x, t, y)
    got = bidi.apply_offset(moved, 1.3, row0=1, axis_y=2, axis_x=0)
    assert (np.moveaxis(got, (2, 0), (1, 2)) == ref).all()


def test_apply_per_column_offsets():
    image = bidi.synthetic_bidi_image((64, 96), 0.0, seed=1, clean=True)
    const = np.full(96, 1.6)
    for order in (1, 3):
        a = bidi.apply_offset(image, const, order=order)
        b = bidi.apply_offset(image, 1.6, order=order)
        assert np.allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("offset", [0.0, 2.0, -2.3, 0.6, "curve"])
@pytest.mark.parametrize("row0", [0, 3])
def test_strip_equals_full_plane(order, offset, row0):
    width = 64
    if offset == "curve":
        offset = 1.5 + 1.2 * np.cos(np.linspace(-1.2, 1.2, width))
    plane = np.random.default_rng(1).integers(0, 4000, (2, 10, width)).astype(np.uint16)
    full = bidi.apply_offset(plane, offset, row0=row0, order=order)
    for x0, x1 in [(0, 1), (0, 5), (30, 31), (20, 40), (60, 64), (63, 64), (0, 64)]:
        c0, c1 = bidi.columns_needed(x0, x1, offset, width, order=order)
        assert 0 <= c0 <= x0 and x1 <= c1 <= width
        strip = bidi.apply_offset_strip(
            plane[..., c0:c1], offset, x0=x0, x1=x1, c0=c0, width=width, row0=row0, order=order
        )
        assert strip.dtype == np.float32
        np.testing.assert_array_equal(strip, full[..., x0:x1])
    with pytest.raises(ValueError, match="needs"):
        bidi.apply_offset_strip(plane[..., 31:32], 3.5, x0=30, x1=31, c0=31, width=width)


def test_curve_beats_constant():
    def truth(x):
        return 2.0 * np.sqrt(1 - (0.9 * (x - 255.5) / 256) ** 2)

    x = np.arange(512)
    noisy = bidi.synthetic_bidi_image((256, 512), truth, seed=3, frames=50)
    curve = bidi.estimate_curve(noisy)
    assert curve.reliable and curve.offsets.shape == (512,)
    assert np.sqrt(np.mean((curve.offsets - truth(x)) ** 2)) < 0.08
    # Residual of the corrected noise-free image against the undistorted scene.
    clean = bidi.synthetic_bidi_image((256, 512), truth, seed=3, clean=True)
    scene = bidi.synthetic_bidi_image((256, 512), 0.0, seed=3, clean=True)
    inner = np.s_[:, 16:-16]

    def rms(offset):
        return np.sqrt(np.mean((bidi.apply_offset(clean, offset, order=3) - scene)[inner] ** 2))

    assert rms(curve) < rms(curve.constant) / 2


def test_curve_of_constant_offset_is_flat():
    image = bidi.synthetic_bidi_image((256, 256), -1.2, seed=8, frames=100)
    curve = bidi.estimate_curve(image)
    assert np.abs(curve.offsets + 1.2).max() < 0.1


def test_bad_arguments():
    with pytest.raises(ValueError):
        bidi.apply_offset(np.zeros((4, 4)), np.zeros(3))
    with pytest.raises(ValueError):
        bidi.apply_offset(np.zeros((4, 4)), 1.0, order=2)
    with pytest.raises(ValueError):
        bidi.columns_needed(5, 5, 1.0, 10)
    with pytest.raises(ValueError):
        bidi.estimate_offset(np.zeros(5))
