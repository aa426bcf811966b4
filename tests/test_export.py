"""Export: OME-Zarr and OME-TIFF round trips, streaming, TiffAppender, and refusals that protect
the source files (which must hash the same after every export)."""

from __future__ import annotations

import builtins
import hashlib
import json
import os

import numpy as np
import pytest
import tifffile
import zarr

import si_explorer
from si_explorer import export
from si_explorer.export import (
    SourceOverwriteError,
    TargetExistsError,
    TiffAppender,
    normalize_selection,
    to_tiff,
    to_zarr,
)


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def mroi(synthetic):
    # Two ROIs of different sizes (fields padded to the larger), 3 planes, a flyback frame.
    return synthetic(
        rois=((20, 24), (14, 18)), volumes=9, slices=3, flyback=1, frame_rate=20.0, seed=11
    )


@pytest.fixture
def no_write_opens(mroi, monkeypatch):
    """Fail if anything opens a source file for writing (os.open flags or open() modes)."""
    sources = {os.path.realpath(p) for p in mroi.paths}
    real_os_open, real_open = os.open, builtins.open
    seen = []

    def checked_os_open(path, flags, *args, **kwargs):
        if os.path.realpath(path) in sources:
            seen.append(flags)
            assert flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC) == 0
        return real_os_open(path, flags, *args, **kwargs)

    def checked_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.path.realpath(file) in sources:
            seen.append(mode)
            assert not set(mode) & set("wax+"), f"source opened with mode {mode!r}"
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", checked_os_open)
    monkeypatch.setattr(builtins, "open", checked_open)
    yield
    assert seen, "the spy saw no open of the source: it checked nothing"


@pytest.fixture
def stack(mroi, no_write_opens):
    """The stack, opened under the spy, its source hashed before and checked after the test."""
    before = [_digest(p) for p in mroi.paths]
    with si_explorer.open(mroi.paths[0]) as opened:
        yield opened
    assert [_digest(p) for p in mroi.paths] == before, "an export changed its source file"


# ---------------------------------------------------------------------- selections


def test_selection_forms():
    shape = (2, 50, 3, 16, 16)
    assert normalize_selection(None, shape) == tuple(range(n) for n in shape)
    assert normalize_selection(1, shape)[0] == range(1, 2)
    assert normalize_selection((-1, slice(None, None, 7)), shape)[:2] == (
        range(1, 2),
        range(0, 50, 7),
    )
    assert normalize_selection((..., 3), shape)[4] == range(3, 4)


@pytest.mark.parametrize(
    "selection, text",
    [
        ((0, slice(None, None, -1)), "negative step"),
        ((2,), "out of range"),
        ((0, 0, 0, 0, 0, 0), "more than five"),
        ((0, [1, 2]), "not an int or a slice"),
        ((..., 0, ...), "one Ellipsis"),
    ],
)
def test_bad_selections(selection, text):
    with pytest.raises(si_explorer.StackIndexError, match=text):
        normalize_selection(selection, (2, 50, 3, 16, 16))


# ---------------------------------------------------------------------- OME-Zarr


def _ome(store):
    group = zarr.open_group(store, mode="r", zarr_format=3)
    return group, group.attrs["ome"]


def test_zarr_round_trip_of_the_whole_stack(stack, tmp_path):
    store = stack.to_zarr(tmp_path / "all.ome.zarr")
    group, ome = _ome(store)
    array = group["0"]
    assert array.metadata.zarr_format == 3
    assert array.metadata.dimension_names == ("time", "field", "z", "y", "x")
    assert array.dtype == stack.dtype
    np.testing.assert_array_equal(array[...], stack[...].transpose(1, 0, 2, 3, 4))
    assert ome["version"] == "0.5"
    (multiscale,) = ome["multiscales"]
    axes = multiscale["axes"]
    assert [a["name"] for a in axes] == ["time", "field", "z", "y", "x"]
    # OME-NGFF 0.5: time first, then one custom axis, then space axes.
    assert [a.get("type") for a in axes] == ["time", None, "space", "space", "space"]
    assert [a.get("unit") for a in axes] == ["second", None, None, "micrometer", "micrometer"]
    (dataset,) = multiscale["datasets"]
    assert dataset["path"] == "0"
    scale, translation = dataset["coordinateTransformations"]
    coords = stack.to_xarray().coords
    assert scale["type"] == "scale" and translation["type"] == "translation"
    np.testing.assert_allclose(
        scale["scale"],
        [
            np.diff(coords["time"].values)[0],
            1,
            1,
            np.diff(coords["y"].values)[0],
            np.diff(coords["x"].values)[0],
        ],
    )
    assert translation["translation"] == [0, 0, 0, 0, 0]


def test_zarr_selection_with_ints_and_steps(stack, tmp_path):
    selection = (1, slice(2, 9, 3), 2, slice(1, 13), slice(None, None, 2))
    store = stack.to_zarr(tmp_path / "part.ome.zarr", selection=selection)
    group, ome = _ome(store)
    expected = stack[1:2, 2:9:3, 2:3, 1:13, ::2].transpose(1, 0, 2, 3, 4)
    assert group["0"].shape == expected.shape == (3, 1, 1, 12, 12)
    np.testing.assert_array_equal(group["0"][...], expected)
    coords = stack.to_xarray().coords
    transforms = ome["multiscales"][0]["datasets"][0]["coordinateTransformations"]
    dt = np.diff(coords["time"].values)[0]
    dy = np.diff(coords["y"].values)[0]
    np.testing.assert_allclose(transforms[0]["scale"], [3 * dt, 1, 1, dy, 2 * dy])
    np.testing.assert_allclose(transforms[1]["translation"], [2 * dt, 1, 2, dy, 0])
    assert group.attrs["si_explorer"]["selection"]["time"] == [2, 9, 3]


def test_zarr_streams_in_bounded_blocks_and_shards(stack, tmp_path, monkeypatch):
    reads = []
    real = export._Reader.read

    def spy(self, ranges):
        block = real(self, ranges)
        reads.append(block.nbytes)
        return block

    monkeypatch.setattr(export._Reader, "read", spy)
    volume = np.prod(stack.shape[2:]) * stack.dtype.itemsize
    # Shards of ~2 volumes: the export must read (and hold) about that much at a time.
    store = stack.to_zarr(tmp_path / "s.ome.zarr", shard_mb=2.5 * volume / 2**20)
    assert sum(reads) == stack.nbytes
    assert len(reads) > 4 and max(reads) <= 2 * volume
    group, _ = _ome(store)
    assert group["0"].shards == (2, 1, 3, 20, 24) and group["0"].chunks == (1, 1, 1, 20, 24)
    shard_files = [f for _, _, names in os.walk(store / "0" / "c") for f in names]
    assert len(shard_files) == 5 * 2  # ceil(9 / 2) time shards x 2 fields
    np.testing.assert_array_equal(group["0"][...], stack[...].transpose(1, 0, 2, 3, 4))


def test_zarr_unsharded_custom_chunks_uncompressed(stack, tmp_path):
    store = stack.to_zarr(
        tmp_path / "c.ome.zarr", chunks={"time": 4, "z": 3}, shard_mb=None, compress=False
    )
    group, _ = _ome(store)
    array = group["0"]
    assert array.chunks == (4, 1, 3, 20, 24) and array.shards is None
    assert array.compressors == ()
    np.testing.assert_array_equal(array[...], stack[...].transpose(1, 0, 2, 3, 4))
    with pytest.raises(si_explorer.SIExplorerError, match="chunks"):
        stack.to_zarr(tmp_path / "bad.ome.zarr", chunks={"channel": 2})


def test_zarr_keeps_non_uniform_time_exactly(synthetic, tmp_path):
    files = synthetic(volumes=3, slices=2, frames_per_slice=2, height=8, width=8)
    with si_explorer.open(files.paths[0]) as stack:
        seconds = stack.time_seconds
        assert not np.allclose(np.diff(seconds), np.diff(seconds)[0])  # frames, then volumes
        store = stack.to_zarr(tmp_path / "fps.ome.zarr", selection=(0, slice(1, None)))
    group, ome = _ome(store)
    time_axis = ome["multiscales"][0]["axes"][0]
    assert time_axis == {"name": "time", "type": "time"}  # no unit: the scale is an index step
    exact = group.attrs["si_explorer"]["coordinates"]["time"]
    assert exact["unit"] == "second"
    np.testing.assert_allclose(exact["values"], seconds[1:])


def test_zarr_of_a_mapped_stack_and_an_empty_selection(stack, tmp_path):
    mapped = stack.map(lambda b: b.astype(np.float32) / 2)
    store = mapped.to_zarr(tmp_path / "m.ome.zarr", selection=(0, slice(0, 4)))
    group, ome = _ome(store)
    assert group["0"].dtype == np.float32
    np.testing.assert_array_equal(
        group["0"][...], (stack[0:1, 0:4].astype(np.float32) / 2).transpose(1, 0, 2, 3, 4)
    )
    assert ome["multiscales"][0]["name"].endswith(stack.name)
    empty = stack.to_zarr(tmp_path / "e.ome.zarr", selection=(0, slice(3, 3)))
    assert _ome(empty)[0]["0"].shape == (0, 1, 3, 20, 24)


def test_zarr_removes_a_partial_store_when_reading_fails(stack, tmp_path, monkeypatch):
    calls = []
    real = export._Reader.read

    def failing(self, ranges):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk gone")
        return real(self, ranges)

    monkeypatch.setattr(export._Reader, "read", failing)
    with pytest.raises(OSError, match="disk gone"):
        stack.to_zarr(tmp_path / "broken.ome.zarr", shard_mb=0.001)
    assert not (tmp_path / "broken.ome.zarr").exists()


def test_progress_bar_when_asked(stack, tmp_path, capsys):
    stack.to_zarr(tmp_path / "p.ome.zarr", progress=True)
    assert "p.ome.zarr" in capsys.readouterr().err
    stack.to_tiff(tmp_path / "p.ome.tif", progress=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------- OME-TIFF


def test_tiff_round_trip_one_image_per_field(stack, tmp_path):
    selection = (slice(None), slice(1, 8, 2), slice(None), slice(2, 18), slice(None))
    path = stack.to_tiff(tmp_path / "part.ome.tif", selection=selection)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome and not tif.is_bigtiff
        assert len(tif.series) == 2
        for f, series in enumerate(tif.series):
            assert series.axes == "TZYX"
            np.testing.assert_array_equal(series.asarray(), stack[f, 1:8:2, :, 2:18])
        ome = tif.ome_metadata
    dy = np.diff(stack.to_xarray().coords["y"].values)[0]
    dt = np.diff(stack.time_seconds)[0]
    assert f'PhysicalSizeX="{dy}"' in ome and 'PhysicalSizeXUnit="µm"' in ome
    assert f'TimeIncrement="{2 * dt}"' in ome


def test_tiff_export_reopens_with_si_explorer(stack, tmp_path):
    path = stack.to_tiff(tmp_path / "f0.ome.tif", selection=(0, slice(0, 5)))
    with si_explorer.open(path) as again:
        assert again.shape == (1, 5, 3, 20, 24)
        np.testing.assert_array_equal(again[...], stack[0:1, 0:5])


def test_tiff_streams_in_bounded_blocks(stack, tmp_path, monkeypatch):
    volume = int(np.prod(stack.shape[2:])) * stack.dtype.itemsize
    monkeypatch.setattr(export, "BLOCK_BYTES", 2 * volume)
    reads = []
    real = export._Reader.read

    def spy(self, ranges):
        block = real(self, ranges)
        reads.append(block.nbytes)
        return block

    monkeypatch.setattr(export._Reader, "read", spy)
    path = stack.to_tiff(tmp_path / "b.ome.tif")
    assert sum(reads) == stack.nbytes and max(reads) <= 2 * volume and len(reads) == 10
    with tifffile.TiffFile(path) as tif:
        np.testing.assert_array_equal(tif.series[1].asarray(), stack[1])


def test_tiff_picks_bigtiff_from_the_size(stack, tmp_path, monkeypatch):
    with tifffile.TiffFile(stack.to_tiff(tmp_path / "forced.ome.tif", bigtiff=True)) as tif:
        assert tif.is_bigtiff
    # Pretend the 4 GB limit is tiny, rather than writing 4 GB.
    monkeypatch.setattr(export, "CLASSIC_TIFF_LIMIT", stack.nbytes // 2)
    with tifffile.TiffFile(stack.to_tiff(tmp_path / "auto.ome.tif")) as tif:
        assert tif.is_bigtiff
        np.testing.assert_array_equal(tif.series[0].asarray(), stack[0])
    with pytest.raises(si_explorer.SIExplorerError, match="classic TIFF"):
        stack.to_tiff(tmp_path / "classic.ome.tif", bigtiff=False)
    assert not (tmp_path / "classic.ome.tif").exists()


def test_tiff_of_a_mapped_stack(stack, tmp_path):
    path = stack.map(np.negative).to_tiff(tmp_path / "neg.ome.tif", selection=(1,))
    with tifffile.TiffFile(path) as tif:
        np.testing.assert_array_equal(tif.series[0].asarray(), -stack[1])


def test_tiff_refuses_an_empty_selection(stack, tmp_path):
    with pytest.raises(si_explorer.SIExplorerError, match="empty"):
        stack.to_tiff(tmp_path / "e.tif", selection=(0, slice(4, 4)))
    assert not (tmp_path / "e.tif").exists()


def test_tiff_removes_a_partial_file_when_reading_fails(stack, tmp_path, monkeypatch):
    def failing(self, ranges):
        raise OSError("disk gone")

    monkeypatch.setattr(export._Reader, "read", failing)
    with pytest.raises(OSError, match="disk gone"):
        stack.to_tiff(tmp_path / "broken.tif")
    assert not (tmp_path / "broken.tif").exists()


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize("kind", ["zarr", "tiff", "appender"])
def test_existing_targets_need_overwrite(stack, tmp_path, kind):
    target = tmp_path / "exists.out"
    target.write_bytes(b"precious")

    def write(**kwargs):
        if kind == "zarr":
            return stack.to_zarr(target, selection=(0, 0), **kwargs)
        if kind == "tiff":
            return stack.to_tiff(target, selection=(0, 0), **kwargs)
        with TiffAppender(target, **kwargs) as out:
            out.append(stack[0, 0, 0])
        return target

    with pytest.raises(TargetExistsError, match="overwrite=True") as info:
        write()
    assert isinstance(info.value, FileExistsError) and "exists.out" in str(info.value)
    assert target.read_bytes() == b"precious"
    write(overwrite=True)
    assert target.is_dir() if kind == "zarr" else target.read_bytes()[:2] in (b"II", b"MM")


def _source_aliases(source, tmp_path):
    """Ways to name the source file: itself, relative, via a symlink, via a hard link."""
    aliases = [source, os.path.relpath(source)]
    link = tmp_path / "link.tif"
    link.symlink_to(source)
    aliases.append(link)
    try:
        hard = tmp_path / "hard.tif"
        os.link(source, hard)
        aliases.append(hard)
    except OSError:
        pass  # filesystems without hard links
    return aliases


@pytest.mark.parametrize("kind", ["zarr", "tiff", "appender"])
def test_sources_are_refused_even_with_overwrite(stack, mroi, tmp_path, kind):
    for alias in _source_aliases(mroi.paths[0], tmp_path):
        with pytest.raises(SourceOverwriteError, match="source") as info:
            if kind == "zarr":
                stack.to_zarr(alias, overwrite=True)
            elif kind == "tiff":
                stack.to_tiff(alias, overwrite=True)
            else:
                TiffAppender(alias, overwrite=True, protect=stack.paths)
        assert isinstance(info.value, PermissionError), alias
        assert os.path.exists(alias)


def test_zarr_never_replaces_a_directory_holding_a_source(stack, mroi, tmp_path):
    with pytest.raises(SourceOverwriteError, match="contains a source"):
        stack.to_zarr(mroi.paths[0].parent, overwrite=True)
    assert mroi.paths[0].exists()


def test_overwrite_replaces_only_zarr_stores_and_files(stack, tmp_path):
    folder = tmp_path / "my-analysis"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(si_explorer.SIExplorerError, match="not a Zarr store"):
        stack.to_zarr(folder, overwrite=True)
    with pytest.raises(si_explorer.SIExplorerError, match="is a directory"):
        stack.to_tiff(folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "keep me"
    store = stack.to_zarr(tmp_path / "again.ome.zarr", selection=(0, 0))
    stack.to_zarr(store, selection=(1, slice(0, 2)), overwrite=True)
    assert _ome(store)[0]["0"].shape == (2, 1, 3, 20, 24)


def test_overwrite_through_a_symlink_replaces_the_link_not_its_target(stack, tmp_path):
    other = tmp_path / "other.tif"
    other.write_bytes(b"someone else's file")
    link = tmp_path / "out.tif"
    link.symlink_to(other)
    stack.to_tiff(link, selection=(0, 0), overwrite=True)
    assert other.read_bytes() == b"someone else's file"
    assert not link.is_symlink() and tifffile.imread(link).shape[-2:] == (20, 24)


# ---------------------------------------------------------------------- TiffAppender


def test_appender_writes_each_plane_when_appended(tmp_path):
    path = tmp_path / "live.tif"
    rng = np.random.default_rng(0)
    planes = rng.integers(0, 4000, (5, 12, 10), dtype=np.uint16)
    with TiffAppender(path) as out:
        sizes = []
        for i, plane in enumerate(planes):
            out.append(plane)
            sizes.append(os.path.getsize(path))
            # Readable while still open: the planes are in the file, not in a buffer.
            with tifffile.TiffFile(path) as tif:
                assert len(tif.pages) == i + 1
                np.testing.assert_array_equal(tif.pages[i].asarray(), plane)
        assert out.shape == (5, 12, 10) and out.dtype == np.uint16
        assert "5 planes" in repr(out)
    assert all(b - a >= planes[0].nbytes for a, b in zip(sizes, sizes[1:]))
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff
        np.testing.assert_array_equal(tif.asarray(), planes)


def test_appender_takes_stacks_and_checks_planes(tmp_path):
    path = tmp_path / "stack.tif"
    with TiffAppender(path, bigtiff=False) as out:
        out.append(np.zeros((2, 3, 4, 5), np.int16))
        assert out.n_planes == 6
        with pytest.raises(si_explorer.SIExplorerError, match="4x5 int16"):
            out.append(np.zeros((4, 6), np.int16))
        with pytest.raises(si_explorer.SIExplorerError, match="4x5 int16"):
            out.append(np.zeros((4, 5), np.float32))
        with pytest.raises(si_explorer.SIExplorerError, match="plane"):
            out.append(np.zeros(5, np.int16))
    with pytest.raises(si_explorer.SIExplorerError, match="closed"):
        out.append(np.zeros((4, 5), np.int16))
    with tifffile.TiffFile(path) as tif:
        assert not tif.is_bigtiff and tif.asarray().shape == (6, 4, 5)


def test_classic_appender_refuses_to_pass_4_gb(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "CLASSIC_TIFF_MAX", 3000)
    path = tmp_path / "small.tif"
    with TiffAppender(path, bigtiff=False) as out:
        out.append(np.zeros((20, 20), np.uint8))
        with pytest.raises(si_explorer.SIExplorerError, match="4 GB"):
            out.append(np.zeros((4, 20, 20), np.uint8))
    assert tifffile.imread(path).shape == (20, 20)  # the file is still valid


def test_appender_of_a_stack_export(stack, tmp_path):
    # The appender is what a user writes their own per-plane pipeline into.
    path = tmp_path / "means.tif"
    with TiffAppender(path, protect=stack.paths) as out:
        for t in range(stack.shape[1]):
            out.append(stack[0, t].mean(axis=0).astype(np.float32))
    np.testing.assert_allclose(tifffile.imread(path), stack[0].mean(axis=1))


def test_zarr_json_is_plain_json(stack, tmp_path):
    # Readers outside Python parse zarr.json themselves: no NaN or numpy types inside.
    store = stack.to_zarr(tmp_path / "j.ome.zarr", selection=(0, slice(0, 2)))
    text = (store / "zarr.json").read_text()
    assert "NaN" not in text
    assert json.loads(text)["attributes"]["ome"]["version"] == "0.5"


def test_module_functions_match_the_stack_methods(stack, tmp_path):
    a = to_zarr(stack, tmp_path / "a.ome.zarr", selection=(0, 1))
    b = stack.to_zarr(tmp_path / "b.ome.zarr", selection=(0, 1))
    np.testing.assert_array_equal(_ome(a)[0]["0"][...], _ome(b)[0]["0"][...])
    c = to_tiff(stack, tmp_path / "c.tif", selection=(0, 1))
    np.testing.assert_array_equal(tifffile.imread(c), stack[0, 1])


def test_real_samples_export_and_stay_unchanged(tmp_path):
    from .conftest import BLANK_IPA, HOSTPIXELCORR

    for sample in (HOSTPIXELCORR, BLANK_IPA):
        before = _digest(sample)
        with si_explorer.open(sample) as stack:
            store = stack.to_zarr(tmp_path / f"{sample.stem}.ome.zarr")
            tiff = stack.to_tiff(tmp_path / f"{sample.stem}.ome.tif")
            pixels = stack[...]
            with pytest.raises(SourceOverwriteError):
                stack.to_tiff(sample, overwrite=True)
        np.testing.assert_array_equal(_ome(store)[0]["0"][...], pixels.transpose(1, 0, 2, 3, 4))
        with tifffile.TiffFile(tiff) as tif:
            np.testing.assert_array_equal(
                tif.series[0].asarray(squeeze=False).reshape(pixels.shape[1:]), pixels[0]
            )
        assert _digest(sample) == before


def test_a_target_in_a_missing_folder_is_one_clear_error(stack, tmp_path):
    with pytest.raises(si_explorer.SIExplorerError, match="cannot create") as info:
        stack.to_tiff(tmp_path / "no" / "such" / "folder.tif")
    assert "folder.tif" in str(info.value)
