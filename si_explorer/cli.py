"""The ``si-explorer`` command: info, view, demo, bench.

    si-explorer info FILE...        layout, rates, sizes and how the index was built (--json)
    si-explorer view FILE...        the explorer on your files, in the browser (Voila)
    si-explorer demo                the explorer on a built-in demo acquisition
    si-explorer bench [--quick]     the benchmark suite (from a source checkout)

Every error is one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from .errors import FrameHeaderWarning, SIExplorerError, TruncatedFileWarning
from .tiff.source import source_size


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("SI_EXPLORER_DEMO_DIR", Path(base) / "si-explorer" / "demo"))


#: How each file's page index was built, in words (PageIndex.method).
INDEX_METHODS = {
    "stride": "constant stride, predicted and verified",
    "walk": "IFD chain walked (no constant stride)",
    "cache": "IFD walk loaded from the index cache",
    None: "predicted from size (indexed when first read)",
    "series": "tifffile series",
}


def describe(stack) -> dict:
    """What ``si-explorer info`` prints, as plain data."""
    files = []
    for facts in stack.files():
        entry = {"path": facts.path, "bytes": source_size(facts.path)}  # a file or a URL
        if facts.pages is not None:
            entry["pages"] = facts.pages
        entry["index"] = INDEX_METHODS[facts.index]
        if facts.index in ("stride", "walk", "cache"):
            entry.update(stride=facts.stride, missing_bytes=facts.missing_bytes)
        files.append(entry)
    md = stack.metadata
    layout = stack.layout
    info = {
        "name": stack.name,
        "shape": dict(zip(stack.dims, stack.shape)),
        "dtype": str(stack.dtype),
        "channels": stack.channels,
        "field_shapes": [list(s) for s in stack.field_shapes],
        "lbm": bool(layout and layout.lbm),
        "frames_per_slice": layout.frames_per_slice if layout else 1,
        "flyback_frames": layout.flyback if layout else 0,
        "files": files,
        "backend": stack.backend,
        "notes": list(stack.warnings),
    }
    if md is not None:
        start = md.acquisition_start
        info.update(
            scanimage=f"{md.flavor} {md.software_version or ''}".strip(),
            frame_rate_hz=md.frame_rate,
            volume_rate_hz=md.volume_rate,
            pixel_size_um=list(md.pixel_size_um) if md.pixel_size_um else None,
            acquisition_start=start.isoformat() if start else None,
        )
        if md.flavor == "scanimage" and stack.shape[1]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", FrameHeaderWarning)
                timeline = stack.timeline()
            info.update(
                frame_rate_measured_hz=timeline.attrs["frame_rate_measured_hz"],
                time_span_s=timeline.attrs["time_span_s"],
                dropped_frames=timeline.attrs["dropped_frames"],
            )
            info["notes"] += [str(w.message) for w in caught]
    return info


def _print_info(info: dict) -> None:
    shape = "  ".join(f"{k} {v:,}" for k, v in info["shape"].items())
    print(f"{info['name']}")
    print(f"  shape        {shape}   ({info['dtype']})")
    print(
        f"  channels     {info['channels']}"
        + ("   (Light Beads: channels are z planes)" if info["lbm"] else "")
    )
    fields = ", ".join(f"{h}x{w}" for h, w in info["field_shapes"])
    print(f"  fields       {len(info['field_shapes'])}: {fields}")
    if info["frames_per_slice"] > 1 or info["flyback_frames"]:
        print(
            f"  per volume   {info['frames_per_slice']} frames per slice, "
            f"{info['flyback_frames']} flyback frames dropped"
        )
    for key, label in (
        ("scanimage", "software"),
        ("frame_rate_hz", "frame rate"),
        ("frame_rate_measured_hz", "measured"),
        ("volume_rate_hz", "volume rate"),
        ("pixel_size_um", "pixel (µm)"),
        ("acquisition_start", "started"),
    ):
        if info.get(key) is not None:
            value = info[key]
            value = f"{value:.4g} Hz" if key.endswith("_hz") else value
            print(f"  {label:<12} {value}")
    if "dropped_frames" in info:
        dropped = info["dropped_frames"]
        shown = ", ".join(f"{n:,}" for n in dropped[:10]) + (", ..." if len(dropped) > 10 else "")
        print(f"  time span    {info['time_span_s']:.6g} s (frame timestamps)")
        print(f"  dropped      {len(dropped):,} frames" + (f": {shown}" if dropped else ""))
    for entry in info["files"]:
        stride = f", stride {entry['stride']:,} B" if entry.get("stride") else ""
        pages = f"{entry['pages']:,} pages, " if "pages" in entry else ""
        print(
            f"  file         {entry['path']}: {entry['bytes']:,} B, {pages}index: "
            f"{entry['index']}{stride}"
        )
    for note in info["notes"]:
        print(f"  note         {note}")


def _info(args) -> int:
    from . import open as open_stack

    infos = []
    for path in args.files:
        with warnings.catch_warnings():
            # What a partial file leaves out is printed as a note, not as a Python warning.
            warnings.simplefilter("ignore", TruncatedFileWarning)
            with open_stack(path) as stack:
                infos.append(describe(stack))
    if args.json:
        print(json.dumps(infos if len(infos) > 1 else infos[0], indent=2))
    else:
        for info in infos:
            _print_info(info)
    return 0


def _demo_files() -> list[str]:
    from .synthetic import demo_acquisition

    folder = _cache_dir()
    first = folder / "demo_00001_00001.tif"
    if not first.exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"writing the demo acquisition to {folder} ...", file=sys.stderr)
        # Written under another name and renamed when complete: an interrupted first run must
        # not leave a truncated demo that every later run would open.
        partial = folder / "partial" / first.name
        demo_acquisition(partial, overwrite=True, progress=True)
        os.replace(partial, first)
    return [str(first)]


def _view(paths: list[str], args) -> int:
    from .explorer.app import serve

    return serve(paths, port=args.port, open_browser=not args.no_browser)


def _bench(args) -> int:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
    if not script.exists():
        raise SIExplorerError(
            None,
            "the benchmark suite lives in the source checkout "
            "(benchmarks/run.py); clone the repository to run it",
        )
    import runpy

    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="si-explorer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="describe ScanImage files")
    info.add_argument("files", nargs="+")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    for name, text in (("view", "open the explorer on files"), ("demo", "explore a demo file")):
        sub = commands.add_parser(name, help=text)
        if name == "view":
            sub.add_argument("files", nargs="+")
        sub.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: free)")
        sub.add_argument("--no-browser", action="store_true", help="only print the URL")
    bench = commands.add_parser("bench", help="run the benchmark suite")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            return _info(args)
        if args.command == "view":
            return _view(args.files, args)
        if args.command == "demo":
            return _view(_demo_files(), args)
        return _bench(args)
    except SIExplorerError as exc:
        print(f"si-explorer: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
