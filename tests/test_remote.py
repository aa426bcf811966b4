"""Remote recordings (issue #13): real servers on 127.0.0.1, not mocks of the client.

- An HTTP server (``http.server``, threaded) serving a directory with ``Range`` support,
  ETags, injected latency, request and byte counters, and switches for the failures a remote
  open must name: no range support, refused credentials, a server that stops answering.
- An S3 server: moto's server mode (``moto[server]``) read through s3fs.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import pickle
import re
import sys
import threading
import time
import warnings
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import si_explorer
from si_explorer import ObjectChangedError
from si_explorer.errors import (
    LayoutError,
    SIExplorerError,
    SourceNotFoundError,
    TruncatedFileWarning,
)
from si_explorer.synthetic import Acquisition, write_acquisition
from si_explorer.tiff import build_index
from si_explorer.tiff.source import RemoteSource

pytest.importorskip("aiohttp")
pytest.importorskip("fsspec")


class RangeServer:
    """A threaded HTTP server for ``root`` on 127.0.0.1 with byte ranges and counters."""

    def __init__(self, root: Path, latency: float = 0.0):
        self.root = Path(root)
        self.latency = latency
        self.ranges = True  # False: ignore Range (answer 200 with the whole file)
        self.token: str | None = None  # set: requests without "Bearer <token>" get 403
        self.stall = 0.0  # seconds to sleep before answering GETs (a server that hangs)
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.in_flight = self.most_in_flight = 0  # GETs waiting out the latency at once
        self.log: list[tuple[str, str, str | None]] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes

            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(server.root), **kwargs)

            def log_message(self, *args):
                pass

            def _count(self, nbytes: int) -> None:
                with server.lock:
                    server.requests += 1
                    server.bytes += nbytes
                    server.log.append((self.command, self.path, self.headers.get("Range")))

            def _refused(self) -> bool:
                if server.token and self.headers.get("Authorization") != f"Bearer {server.token}":
                    self._count(0)
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return True
                return False

            def _file(self):
                path = Path(self.translate_path(self.path))
                return path if path.is_file() else None

            def _etag(self, path: Path) -> str:
                st = path.stat()
                return (
                    '"' + hashlib.md5(f"{st.st_size}-{st.st_mtime_ns}".encode()).hexdigest() + '"'
                )

            def do_HEAD(self):
                if server.latency:
                    time.sleep(server.latency)
                if self._refused():
                    return
                path = self._file()
                if path is None:
                    return super().do_HEAD()
                self._count(0)
                self.send_response(200)
                self.send_header("Content-Length", str(path.stat().st_size))
                self.send_header("ETag", self._etag(path))
                self.send_header("Accept-Ranges", "bytes" if server.ranges else "none")
                self.send_header(
                    "Last-Modified", email.utils.formatdate(path.stat().st_mtime, usegmt=True)
                )
                self.end_headers()

            def do_GET(self):
                if server.latency:
                    with server.lock:
                        server.in_flight += 1
                        server.most_in_flight = max(server.most_in_flight, server.in_flight)
                    time.sleep(server.latency)
                    with server.lock:
                        server.in_flight -= 1
                if server.stall:
                    time.sleep(server.stall)
                if self._refused():
                    return
                path = self._file()
                if path is None:
                    self._count(0)
                    return super().do_GET()
                size = path.stat().st_size
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
                if not server.ranges or match is None:
                    self._count(size)
                    self.send_response(200)
                    self.send_header("Content-Length", str(size))
                    self.end_headers()
                    with open(path, "rb") as f:
                        while chunk := f.read(1 << 20):
                            try:
                                self.wfile.write(chunk)
                            except OSError:
                                return
                    return
                start = int(match[1])
                end = min(int(match[2]) + 1 if match[2] else size, size)
                if start >= size:
                    self._count(0)
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with open(path, "rb") as f:
                    f.seek(start)
                    data = f.read(end - start)
                self._count(len(data))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", self._etag(path))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # socketserver's backlog of 5 makes concurrent clients wait for their connections
            # (nginx's default is 511): requests sent together would not arrive together.
            request_queue_size = 128

            def handle_error(self, request, client_address):
                # A client that cancels its requests (a read stopped at its first refusal)
                # closes connections the server is still writing to: not a server error.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with self.lock:
            self.requests = self.bytes = self.most_in_flight = 0
            self.log.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Synthetic recordings in one directory, and an HTTP server for it."""
    root = tmp_path_factory.mktemp("served")
    files = {
        "plain": write_acquisition(
            root / "plain_00001_00001.tif", Acquisition(volumes=40, height=32, width=48)
        ),
        "mroi": write_acquisition(
            root / "mroi_00001_00001.tif",
            Acquisition(volumes=6, rois=((20, 24), (20, 24), (12, 24)), channels=2),
        ),
        "multi": write_acquisition(
            root / "multi_00001_00001.tif",
            Acquisition(volumes=10, channels=2, frames_per_file=3, height=16, width=16),
        ),
        "walk": write_acquisition(
            root / "walk_00001_00001.tif",
            Acquisition(volumes=300, height=16, width=16, stride_break_at=150),
        ),
        "big": write_acquisition(
            root / "big_00001_00001.tif",
            Acquisition(volumes=100_000, height=256, width=256, sparse=True),
        ),
    }
    server = RangeServer(root)
    yield server, root, files
    server.close()


@pytest.fixture
def http(served):
    server, root, files = served
    server.reset()
    server.latency = 0.0
    server.ranges, server.token, server.stall = True, None, 0.0
    return server, root, files


def url_of(server, files, name: str, i: int = 0) -> str:
    return f"{server.url}/{files[name].paths[i].name}"


def assert_same_stack(remote, local):
    assert remote.shape == local.shape
    assert remote.dtype == local.dtype
    f, t, z = remote.shape[:3]
    for key in [(0, 0, 0), (f - 1, t - 1, z - 1), (slice(None), slice(0, 3), 0)]:
        np.testing.assert_array_equal(remote[key], local[key])
    np.testing.assert_array_equal(
        remote.timeseries(3, 5, field=f - 1), local.timeseries(3, 5, field=f - 1)
    )


# ------------------------------------------------------------------------------------ HTTP


@pytest.mark.parametrize("name", ["plain", "mroi", "walk"])
def test_http_stack_equals_local(http, name, tmp_path, monkeypatch):
    server, root, files = http
    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    remote = si_explorer.open(url_of(server, files, name))
    local = si_explorer.open(files[name].paths[0])
    assert_same_stack(remote, local)
    np.testing.assert_array_equal(remote.data.compute(), local.data.compute())
    np.testing.assert_array_equal(remote.project("max"), local.project("max"))
    assert remote.files()[0].index == local.files()[0].index
    if local.channels and len(local.channels) > 1:
        other = si_explorer.open(url_of(server, files, name), channel=1)
        np.testing.assert_array_equal(
            other[0, 1, 0], si_explorer.open(files[name].paths[0], channel=1)[0, 1, 0]
        )


def test_http_open_and_reads_are_few_requests(http):
    server, root, files = http
    url = url_of(server, files, "big")
    server.latency = 0.1  # long enough that requests sent together overlap on a busy machine
    try:
        stack = si_explorer.open(url)
    finally:
        server.latency = 0.0
    assert stack.shape[1] == 100_000
    assert server.requests <= 40, server.log
    assert server.bytes <= 4 << 20
    # The ~30 sampled IFDs of the stride check are fetched together, not one round trip each
    # (one at a time before: 1 in flight).
    assert server.most_in_flight >= 16, server.most_in_flight
    server.reset()
    plane = stack[0, 77_777, 0]
    assert plane.shape == (256, 256)
    assert server.requests == 1  # one ranged GET of the page's pixels
    server.reset()
    trace = stack[0, :1500, 0, 10, 10]
    assert trace.shape == (1500,)
    # Pages 132 KiB apart are farther than the 64 KiB merge gap: a request per page, sent
    # concurrently, each of 2 bytes.
    assert server.requests == 1500 and server.bytes == 3000


def test_http_small_file_trace_is_one_request(http):
    server, root, files = http
    stack = si_explorer.open(url_of(server, files, "plain"))
    server.reset()
    remote = stack.timeseries(4, 7)
    assert server.requests == 1
    np.testing.assert_array_equal(
        remote, si_explorer.open(files["plain"].paths[0]).timeseries(4, 7)
    )


def test_http_glob_and_list_of_urls(http):
    server, root, files = http
    local = si_explorer.open(files["multi"].paths)
    urls = [f"{server.url}/{p.name}" for p in files["multi"].paths]
    assert_same_stack(si_explorer.open(urls), local)
    globbed = si_explorer.open(f"{server.url}/multi_00001_*.tif")
    assert globbed.paths == urls
    assert_same_stack(globbed, local)


def test_http_timeline_and_pickle(http):
    server, root, files = http
    remote = si_explorer.open(url_of(server, files, "plain"))
    local = si_explorer.open(files["plain"].paths[0])
    server.reset()
    timeline = remote.timeline(progress=False)
    assert server.requests <= 3  # 40 descriptions in merged ranges
    np.testing.assert_array_equal(
        timeline["frame_number"].values, local.timeline(progress=False)["frame_number"].values
    )
    clone = pickle.loads(pickle.dumps(remote))
    np.testing.assert_array_equal(clone[0, 5, 0], local[0, 5, 0])


def test_http_index_cache_keyed_by_url_and_etag(http, tmp_path, monkeypatch):
    server, root, files = http
    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    source_path = files["walk"].paths[0]
    copy = root / "walkcopy_00001_00001.tif"
    copy.write_bytes(source_path.read_bytes())
    url = f"{server.url}/{copy.name}"
    first = build_index(RemoteSource(url))
    assert first.method == "walk"
    server.reset()
    again = build_index(RemoteSource(url))
    assert again.method == "cache"
    assert server.requests <= 12  # the stride check that fails, then the cache's hashes
    np.testing.assert_array_equal(again.data_offsets, first.data_offsets)
    # A changed object (new ETag) misses the cache.
    time.sleep(0.01)
    os.utime(copy, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert build_index(RemoteSource(url)).method == "walk"


def test_http_remote_walk_fetches_blocks(http):
    server, root, files = http
    server.reset()
    index = build_index(RemoteSource(url_of(server, files, "walk")), cache=False)
    assert index.method == "walk" and index.n_pages == 300
    assert server.requests <= 16, server.requests  # not one request per IFD (300 IFDs)


# ---------------------------------------------------------------------------------- errors


def test_http_missing_object(http):
    server, root, files = http
    with pytest.raises(SourceNotFoundError, match="nothere_00001_00001.tif: no such object"):
        si_explorer.open(f"{server.url}/nothere_00001_00001.tif")


def test_http_server_without_ranges(http):
    server, root, files = http
    server.ranges = False
    started = time.monotonic()
    with pytest.raises(SIExplorerError, match="range requests") as error:
        si_explorer.open(url_of(server, files, "big"))
    assert url_of(server, files, "big") in str(error.value)
    assert time.monotonic() - started < 5


def test_http_credentials_refused_then_accepted(http):
    server, root, files = http
    server.token = "s3cret"
    url = url_of(server, files, "plain")
    with pytest.raises(SIExplorerError, match="access refused") as error:
        si_explorer.open(url)
    assert url in str(error.value)
    stack = si_explorer.open(url, storage_options={"headers": {"Authorization": "Bearer s3cret"}})
    np.testing.assert_array_equal(
        stack[0, 3, 0], si_explorer.open(files["plain"].paths[0])[0, 3, 0]
    )


def test_http_server_that_stops_answering_times_out(http):
    server, root, files = http
    url = url_of(server, files, "plain")
    stack = si_explorer.open(url, storage_options={"read_timeout": 0.5})
    server.stall = 3.0
    started = time.monotonic()
    with pytest.raises(SIExplorerError, match="did not answer") as error:
        stack[0, 1, 0]
    assert url in str(error.value)
    assert time.monotonic() - started < 2.5


def test_http_object_changed_while_open(http, tmp_path):
    server, root, files = http
    target = root / "changing_00001_00001.tif"
    target.write_bytes(files["plain"].paths[0].read_bytes())
    stack = si_explorer.open(f"{server.url}/{target.name}")
    stack[0, 0, 0]
    data = bytearray(target.read_bytes())
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new ETag
    target.write_bytes(bytes(data))
    with pytest.raises(SIExplorerError, match="changed since it was opened"):
        stack[0, 2, 0]


def test_references_http_and_local(http, tmp_path):
    zarr = pytest.importorskip("zarr")
    import fsspec

    server, root, files = http
    for name in ("plain", "mroi", "multi"):
        if name == "multi":
            stack = si_explorer.open(f"{server.url}/multi_00001_*.tif")
        else:
            stack = si_explorer.open(url_of(server, files, name))
        refs_path = tmp_path / f"{name}.json"
        refs = stack.to_references(refs_path)
        assert refs["version"] == 1
        # zarr 3 reads through async filesystems: the reference filesystem and its target.
        mapper = fsspec.get_mapper(
            "reference://",
            fo=str(refs_path),
            remote_protocol="http",
            asynchronous=True,
            remote_options={"asynchronous": True},
        )
        group = zarr.open(mapper, mode="r")
        full = stack.data.compute()
        if "data" in group:
            np.testing.assert_array_equal(group["data"][:], full)
        else:
            for f, (h, w) in enumerate(stack.field_shapes):
                np.testing.assert_array_equal(group[f"field_{f}"][:], full[f : f + 1, :, :, :h, :w])
                assert (full[f, :, :, h:, :] == 0).all()


def test_references_of_local_files(served, tmp_path):
    zarr = pytest.importorskip("zarr")
    import fsspec

    server, root, files = served
    stack = si_explorer.open(files["mroi"].paths[0])
    stack.to_references(tmp_path / "local.json")
    fs = fsspec.filesystem("reference", fo=str(tmp_path / "local.json"), remote_protocol="file")
    group = zarr.open(fs.get_mapper(), mode="r")
    for f, (h, w) in enumerate(stack.field_shapes):
        np.testing.assert_array_equal(group[f"field_{f}"][0, 2, 0], stack[f, 2, 0][:h, :w])


def test_references_refuse_a_mosaic(http, tmp_path):
    server, root, files = http
    stack = si_explorer.open(url_of(server, files, "mroi"), mosaic=True)
    with pytest.raises(SIExplorerError, match="mosaic"):
        stack.to_references(tmp_path / "m.json")


def test_cli_info_url(http, capsys):
    from si_explorer.cli import main

    server, root, files = http
    main(["info", url_of(server, files, "plain")])
    out = capsys.readouterr().out
    assert "plain_00001_00001.tif" in out


# ------------------------------------------------------------ changed objects, growth, export


def flipped_pixels(path) -> bytes:
    """The bytes of ``path`` with every pixel inverted: same size, same IFDs, other pixels."""
    index = build_index(str(path), cache=False)
    data = np.frombuffer(Path(path).read_bytes(), np.uint8).copy()
    for offset in index.data_offsets.tolist():
        data[offset : offset + index.page_nbytes] ^= 0xFF
    return data.tobytes()


def other_recording(tmp_path, volumes: int) -> bytes:
    """Another recording with the geometry of the "plain" one (another seed)."""
    path = tmp_path / f"other{volumes}" / "other_00001_00001.tif"
    return (
        write_acquisition(path, Acquisition(volumes=volumes, height=32, width=48, seed=11))
        .paths[0]
        .read_bytes()
    )


def replacement(kind: str, files, tmp_path) -> bytes:
    if kind == "same size":
        return flipped_pixels(files["plain"].paths[0])
    return other_recording(tmp_path, 60 if kind == "longer" else 20)


def page_end(files, k: int) -> int:
    """First byte after page k of a synthetic file (the next page's IFD)."""
    return int(files.ifd_offsets[0][k + 1])


def open_quietly(url, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedFileWarning)  # a page still being written
        return si_explorer.open(url, **options)


CHANGED = "changed since it was opened|replaced since it was opened"


@pytest.mark.parametrize("kind", ["same size", "longer", "shorter"])
def test_http_replaced_object_is_an_error_not_other_pixels(http, tmp_path, kind):
    server, root, files = http
    target = root / f"replaced_{kind.replace(' ', '')}_00001_00001.tif"
    target.write_bytes(files["plain"].paths[0].read_bytes())
    url = f"{server.url}/{target.name}"
    stack = si_explorer.open(url)
    np.testing.assert_array_equal(stack[0, 1, 0], files["plain"].expected(0, 1, 0))
    new = replacement(kind, files, tmp_path)
    assert (len(new) == target.stat().st_size) == (kind == "same size")
    target.write_bytes(new)
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new ETag, whatever the clock
    server.reset()
    with pytest.raises(ObjectChangedError, match=CHANGED) as error:
        stack[0, 2, 0]
    assert str(error.value).startswith(url)
    # The refused GET and a HEAD; for a longer object also its first block, which differs.
    assert server.requests == (3 if kind == "longer" else 2), server.log
    with pytest.raises(ObjectChangedError, match=CHANGED):
        stack[0, :, 0, 3, 5]
    with pytest.raises(ObjectChangedError, match=CHANGED):
        stack.timeseries(3, 5)


def test_http_replaced_object_trace_stops_at_the_first_refusal(http):
    """A trace of a replaced object fails after the requests in flight, not one per frame."""
    server, root, files = http
    target = root / "bigreplaced_00001_00001.tif"
    target.write_bytes(files["big"].paths[0].read_bytes())
    stack = si_explorer.open(f"{server.url}/{target.name}")
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))  # same bytes, new ETag
    server.reset()
    with pytest.raises(ObjectChangedError, match=CHANGED):
        stack[0, :3000, 0, 10, 10]
    # 3,000 ranges of 2 bytes: at most 32 in flight when the first refusal arrives.
    assert server.requests <= 2 * 32 + 1, server.requests


class Growing:
    """A served file that a writer appends a complete recording's bytes to, step by step."""

    def __init__(self, complete: Path, target: Path):
        self.data = complete.read_bytes()
        self.path = target
        self.path.write_bytes(b"")

    def grow_to(self, size: int) -> None:
        written = self.path.stat().st_size
        with open(self.path, "ab", buffering=0) as handle:
            handle.write(self.data[written:size])
        # Appends within one clock tick must still change the ETag, as a real server's would.
        stamp = time.time_ns() + written
        os.utime(self.path, ns=(stamp, stamp))


def test_http_refresh_of_a_recording_still_being_written(http):
    import tifffile

    server, root, files = http
    plain = files["plain"]
    truth = tifffile.imread(plain.paths[0], key=range(40))  # one page per time point
    growing = Growing(plain.paths[0], root / "growing_00001_00001.tif")
    url = f"{server.url}/{growing.path.name}"
    growing.grow_to(page_end(plain, 9) + 300)  # 10 pages and part of the 11th
    stack = open_quietly(url)
    assert stack.shape[1] == 10
    np.testing.assert_array_equal(stack[0, :, 0], truth[:10])
    dask_before = stack.data

    # Between two refreshes the object grows (another ETag): the open stack keeps serving its
    # time points, from the longer object once its first bytes show it is the same recording.
    growing.grow_to(page_end(plain, 24) + 100)
    server.reset()
    np.testing.assert_array_equal(stack[0, 7, 0], truth[7])
    assert server.requests == 4, server.log  # refused GET, HEAD, first block, the plane
    server.reset()
    assert stack.refresh() == 15
    assert stack.shape[1] == 25 and stack.data.shape[1] == 25
    np.testing.assert_array_equal(stack[0, :, 0], truth[:25])
    np.testing.assert_array_equal(stack.timeseries(3, 5), truth[:25, 3, 5])

    growing.grow_to(page_end(plain, 24) + 2000)  # part of a page: nothing new to serve
    assert stack.refresh() == 0
    np.testing.assert_array_equal(stack[0, 24, 0], truth[24])

    growing.grow_to(len(growing.data))
    assert stack.refresh() == 15
    local = si_explorer.open(plain.paths[0])
    assert stack.shape == local.shape
    np.testing.assert_array_equal(stack.data.compute(), local.data.compute())
    np.testing.assert_array_equal(dask_before.compute()[0, :, 0], truth[:10])
    np.testing.assert_array_equal(
        stack.timeline(progress=False)["frame_number"].values,
        local.timeline(progress=False)["frame_number"].values,
    )
    assert stack.refresh() == 0


def test_http_refresh_refuses_a_recording_replaced_by_a_longer_one(http, tmp_path):
    server, root, files = http
    growing = Growing(files["plain"].paths[0], root / "growrep_00001_00001.tif")
    growing.grow_to(page_end(files["plain"], 9) + 300)
    url = f"{server.url}/{growing.path.name}"
    stack = open_quietly(url)
    stack[0, 3, 0]
    growing.path.write_bytes(other_recording(tmp_path, 60))
    os.utime(growing.path, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(SIExplorerError, match="changed|replaced") as error:
        stack.refresh()
    assert str(error.value).startswith(url)
    assert stack.shape[1] == 10
    with pytest.raises(ObjectChangedError, match="replaced since it was opened"):
        stack[0, 3, 0]


def test_export_of_a_remote_stack_equals_the_local_export(http, tmp_path):
    import tifffile
    import zarr

    server, root, files = http
    remote = si_explorer.open(url_of(server, files, "mroi"))
    local = si_explorer.open(files["mroi"].paths[0])
    selection = (slice(None), slice(1, 5))
    for name, stack in (("remote", remote), ("local", local)):
        stack.to_zarr(tmp_path / f"{name}.ome.zarr", selection=selection, progress=False)
        stack.to_tiff(tmp_path / f"{name}.ome.tif", progress=False)
    exported = [zarr.open(tmp_path / f"{n}.ome.zarr", mode="r") for n in ("remote", "local")]
    np.testing.assert_array_equal(exported[0]["0"][:], exported[1]["0"][:])
    attrs = [dict(z.attrs.asdict()) for z in exported]
    assert attrs[0]["si_explorer"].pop("sources") == remote.paths  # the URL, not a local path
    attrs[1]["si_explorer"].pop("sources")
    assert attrs[0] == attrs[1]
    with (
        tifffile.TiffFile(tmp_path / "remote.ome.tif") as a,
        tifffile.TiffFile(tmp_path / "local.ome.tif") as b,
    ):
        assert len(a.series) == len(b.series) == remote.shape[0]
        for sa, sb in zip(a.series, b.series):
            np.testing.assert_array_equal(sa.asarray(), sb.asarray())


def test_remote_tiffs_that_need_the_series_reader(http, monkeypatch):
    """OME, several series, mixed pages: refused by URL with why and what to do (tifffile's
    series reader over a network may read every IFD); an ImageJ hyperstack opens as locally."""
    import tifffile

    server, root, files = http
    rng = np.random.default_rng(3)
    data = rng.integers(0, 4000, (5, 2, 2, 32, 48), dtype=np.uint16)
    tifffile.imwrite(root / "ome.ome.tif", data, ome=True, metadata={"axes": "TZCYX"})
    tifffile.imwrite(root / "mixed.tif", data[:, 0, 0])
    tifffile.imwrite(root / "mixed.tif", data[0, 0, 0, :16, :16], append=True)
    tifffile.imwrite(root / "twoseries.tif", data[:, 0, 0])
    tifffile.imwrite(root / "twoseries.tif", data[:, 1, 0], append=True)
    tifffile.imwrite(root / "hyper.tif", data, imagej=True, metadata={"axes": "TZCYX"})

    def no_series_reader(*args, **kwargs):
        raise AssertionError("tifffile opened a remote file")

    monkeypatch.setattr(tifffile, "TiffFile", no_series_reader)
    for name, why in [
        ("ome.ome.tif", "it is an OME-TIFF"),
        ("mixed.tif", r"its pages differ \(page 5 is 16x16 uint16"),
        ("twoseries.tif", "it holds more than one image series"),
    ]:
        url = f"{server.url}/{name}"
        with pytest.raises(LayoutError, match=why + ".*series reader.*open the local copy") as e:
            si_explorer.open(url)
        assert str(e.value).startswith(url)
    monkeypatch.undo()

    # What the OME refusal suggests: its pages are uniform, so a stated order opens them.
    layout = si_explorer.Layout(frames=5, planes=2, channels=2, order="tzc")
    for channel in (0, 1):
        stated = si_explorer.open(f"{server.url}/ome.ome.tif", layout=layout, channel=channel)
        series = si_explorer.open(root / "ome.ome.tif", channel=channel)
        assert stated.shape == series.shape
        np.testing.assert_array_equal(stated.data.compute(), series.data.compute())

    remote = si_explorer.open(f"{server.url}/hyper.tif", channel=1)
    local = si_explorer.open(root / "hyper.tif", channel=1)
    assert remote.shape == local.shape == (1, 5, 2, 32, 48)
    assert remote.channels == local.channels
    np.testing.assert_array_equal(remote.data.compute(), local.data.compute())
    np.testing.assert_array_equal(remote.data.compute()[0], data[:, :, 1])


def test_fsspec_replaced_object_is_an_error(served):
    """A filesystem without If-Match (memory://): the version is asked again after the read."""
    import fsspec

    server, root, files = served
    fs = fsspec.filesystem("memory")
    path = "/si-explorer-test/mem_00001_00001.tif"
    fs.pipe(path, files["plain"].paths[0].read_bytes())
    url = f"memory:/{path}"
    try:
        stack = si_explorer.open(url)
        np.testing.assert_array_equal(stack[0, 4, 0], files["plain"].expected(0, 4, 0))
        # Same size: only the version (the memory filesystem's creation time, in µs) differs.
        fs.pipe(path, flipped_pixels(files["plain"].paths[0]))
        with pytest.raises(ObjectChangedError, match=CHANGED) as error:
            stack[0, 5, 0]
        assert str(error.value).startswith(url)
    finally:
        fs.rm(path)


# -------------------------------------------------------------------------------------- S3


@pytest.fixture(scope="module")
def s3(served):
    """moto's S3 server (its server mode, a real HTTP endpoint) holding the recordings."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    server, root, files = served
    moto = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    host, port = moto.get_host_and_port()
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://{host}:{port}", "region_name": "us-east-1"},
    }
    import s3fs

    boto3 = pytest.importorskip("boto3")
    boto3.client(
        "s3",
        endpoint_url=options["client_kwargs"]["endpoint_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket="recordings")
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    for name in ("plain", "mroi", "multi"):
        for path in files[name].paths:
            fs.put_file(str(path), f"recordings/{path.name}")
    yield options, files
    moto.stop()


def test_s3_glob_equals_local(s3):
    options, files = s3
    stack = si_explorer.open("s3://recordings/multi_00001_*.tif", storage_options=options)
    assert [p.rsplit("/", 1)[1] for p in stack.paths] == [p.name for p in files["multi"].paths]
    assert_same_stack(stack, si_explorer.open(files["multi"].paths))
    remote = si_explorer.open("s3://recordings/mroi_00001_00001.tif", storage_options=options)
    local = si_explorer.open(files["mroi"].paths[0])
    assert_same_stack(remote, local)
    np.testing.assert_array_equal(remote.project("mean"), local.project("mean"))


def test_s3_missing_objects(s3):
    options, files = s3
    with pytest.raises(SourceNotFoundError, match="s3://recordings/nothere.tif"):
        si_explorer.open("s3://recordings/nothere.tif", storage_options=options)
    with pytest.raises(SourceNotFoundError, match="no object matches"):
        si_explorer.open("s3://recordings/nothing_*.tif", storage_options=options)


def test_s3_index_cache_and_changed_object(s3, tmp_path, monkeypatch):
    import s3fs

    options, files = s3
    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    key = "recordings/walk_00001_00001.tif"
    fs.put_file(str(files["walk"].paths[0]), key)
    url = f"s3://{key}"
    assert build_index(RemoteSource(url, options)).method == "walk"
    assert build_index(RemoteSource(url, options)).method == "cache"
    fs.put_file(str(files["plain"].paths[0]), key)  # replaced: new ETag
    assert build_index(RemoteSource(url, options)).method != "cache"


@pytest.fixture
def s3_calls(monkeypatch):
    """The S3 calls s3fs makes (method, If-Match), through any of its filesystems."""
    import s3fs

    calls = []
    original = s3fs.S3FileSystem._call_s3

    async def counted(self, method, *args, **kwargs):
        calls.append((method, kwargs.get("IfMatch")))
        return await original(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", counted)
    return calls


@pytest.mark.parametrize("kind", ["same size", "longer", "shorter"])
def test_s3_replaced_object_is_an_error_not_other_pixels(s3, s3_calls, tmp_path, kind):
    import s3fs

    options, files = s3
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    key = f"recordings/replaced_{kind.replace(' ', '')}_00001_00001.tif"
    fs.pipe_file(key, files["plain"].paths[0].read_bytes())
    url = f"s3://{key}"
    stack = si_explorer.open(url, storage_options=options)
    s3_calls.clear()
    np.testing.assert_array_equal(stack[0, 1, 0], files["plain"].expected(0, 1, 0))
    etag = stack._planes.sources[0].reader.source().version
    assert s3_calls == [("get_object", etag)]  # one ranged GET, pinned to the ETag
    fs.pipe_file(key, replacement(kind, files, tmp_path))
    s3_calls.clear()
    with pytest.raises(ObjectChangedError, match=CHANGED) as error:
        stack[0, 2, 0]
    assert str(error.value).startswith(url)
    # moto answers the pinned GET with 412; then one HEAD tells whether the object grew, and
    # for a longer object one GET of its first block shows another recording.
    assert s3_calls[0] == ("get_object", etag)
    assert [m for m, _ in s3_calls] == ["get_object", "head_object"] + (
        ["get_object"] if kind == "longer" else []
    )
    with pytest.raises(ObjectChangedError, match=CHANGED):
        stack[0, :, 0, 3, 5]
    with pytest.raises(ObjectChangedError, match=CHANGED):
        stack.timeseries(3, 5)


def test_s3_refresh_of_a_recording_uploaded_again_longer(s3, tmp_path):
    import s3fs
    import tifffile

    options, files = s3
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    plain = files["plain"]
    data = plain.paths[0].read_bytes()
    truth = tifffile.imread(plain.paths[0], key=range(40))
    key = "recordings/uploading_00001_00001.tif"
    url = f"s3://{key}"
    fs.pipe_file(key, data[: page_end(plain, 9) + 300])
    stack = open_quietly(url, storage_options=options)
    assert stack.shape[1] == 10
    fs.pipe_file(key, data[: page_end(plain, 24) + 100])  # uploaded again, longer: a new ETag
    np.testing.assert_array_equal(stack[0, 7, 0], truth[7])
    assert stack.refresh() == 15
    np.testing.assert_array_equal(stack[0, :, 0], truth[:25])
    fs.pipe_file(key, data)
    assert stack.refresh() == 15
    local = si_explorer.open(plain.paths[0])
    np.testing.assert_array_equal(stack.data.compute(), local.data.compute())
    np.testing.assert_array_equal(stack.timeseries(3, 5), local.timeseries(3, 5))

    fs.pipe_file(key, other_recording(tmp_path, 60))
    with pytest.raises(SIExplorerError, match="changed|replaced") as error:
        stack.refresh()
    assert str(error.value).startswith(url)
    with pytest.raises(ObjectChangedError, match=CHANGED):
        stack[0, 3, 0]


def test_s3_export_equals_the_local_export(s3, tmp_path):
    import zarr

    options, files = s3
    remote = si_explorer.open("s3://recordings/multi_00001_*.tif", storage_options=options)
    local = si_explorer.open(files["multi"].paths)
    for name, stack in (("remote", remote), ("local", local)):
        stack.to_zarr(tmp_path / f"{name}.ome.zarr", progress=False)
    arrays = [zarr.open(tmp_path / f"{n}.ome.zarr", mode="r")["0"][:] for n in ("remote", "local")]
    np.testing.assert_array_equal(arrays[0], arrays[1])


@pytest.mark.slow
def test_remote_stack_with_dask_distributed_processes(served):
    distributed = pytest.importorskip("distributed")
    server, root, files = served
    stack = si_explorer.open(f"{server.url}/{files['mroi'].paths[0].name}")
    local = si_explorer.open(files["mroi"].paths[0])
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        total = client.compute(stack.data.astype("int64").sum()).result()
        plane = client.submit(lambda s: s[1, 3, 0], stack).result()
    assert total == int(local.data.astype("int64").sum().compute())
    np.testing.assert_array_equal(plane, local[1, 3, 0])
