"""ScanImage metadata: detected from a few header bytes, parsed only where it is used.

Two flavours are recognised:

* ScanImage 2016 and later (``flavor == "scanimage"``): a BigTIFF whose bytes 16..31 hold
  four little-endian uint32 (magic 117637889, header version 3 or 4, ``size0``, ``size1``).
  The frame-invariant settings ("FrameData", MATLAB ``SI.x.y = value`` lines) start at
  byte 32, the ROI-group JSON at ``32 + size0``; both are NUL-terminated.
* ScanImage 3.x (``flavor == "scanimage3"``): every page's ImageDescription holds
  ``state.acq.x=value`` lines separated by CR (or LF).

FrameData can be tens of MB (scanner waveforms). It is indexed once on first use (one
regular-expression pass that records where each ``key =`` line starts, ~10 ms per 20 MB)
and then each requested key's value, and only that value, is parsed by
:func:`~si_explorer.scanimage.matlab.parse_value`. The ROI-group JSON is decoded on first use.

The bytes are read once by :func:`read_metadata` through the caller's ``read_bytes``, so a
:class:`ScanImageMetadata` holds no file handle and pickles.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import MetadataError
from .matlab import MatlabSyntaxError, parse_value

__all__ = [
    "SCANIMAGE_MAGIC",
    "ScanImageMetadata",
    "ScanStructure",
    "Unparsed",
    "parse_page_description",
    "read_metadata",
]

SCANIMAGE_MAGIC = 117637889  # 0x07030301, uint32 at byte 16 of a ScanImage 2016+ BigTIFF
_KNOWN_VERSIONS = (3, 4)
# Real FrameData blocks reach tens of MB; a gigabyte means the size field is garbage.
_MAX_BLOCK = 1 << 30

# A line that starts a new key: "\n" then a dotted MATLAB name then "=". Searching for the
# literal "\n" lets the regex engine skip through multi-megabyte waveform lines quickly.
_KEY_LINE = re.compile(r"\n[ \t]*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)[ \t]*=")
_FIRST_KEY = re.compile(r"[ \t]*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)[ \t]*=")
_AFTER_KEY = re.compile(r"[ \t]*=")
_INDEX_AT_ONCE_MAX_KEYS = 50_000


class Unparsed(str):
    """The raw text of a value that could not be parsed (only from lenient parsing).

    >>> parse_page_description("a = 1\\nb = [1 2")["b"]
    Unparsed('[1 2')
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Unparsed({str.__repr__(self)})"


@dataclass(frozen=True)
class ScanStructure:
    """How ScanImage ordered the saved frames of one acquisition (from its metadata).

    ``channels`` saved channels are interleaved innermost; each slice holds
    ``frames_per_slice`` saved frames; a volume is ``slices`` slices followed by
    ``flyback_frames`` frames that are on disk but carry no image.
    """

    channels: int
    slices: int = 1
    frames_per_slice: int = 1  # saved frames per slice (after averaging)
    flyback_frames: int = 0  # saved frames per volume after the slices
    average: int = 1  # raw frames averaged into one saved frame
    volumetric: bool = False  # a z stack (slow or fast) was acquired
    raw_frames_per_volume: int = 1  # raw frames per volume, flyback included
    # Saved frames (flyback included) the header says the acquisition would write; None when
    # it does not say (or says Inf). A file with fewer was stopped early or is an excerpt.
    promised_frames: int | None = None


def read_metadata(
    path: str | os.PathLike,
    read_bytes: Callable[[int, int], bytes],
    *,
    first_description: bytes | str | None = None,
) -> ScanImageMetadata | None:
    """Read the ScanImage metadata of a TIFF, or return None when it is not a ScanImage file.

    ``read_bytes(offset, nbytes)`` returns the file's bytes at ``offset`` (fewer at the end
    of the file). ``first_description`` is page 0's ImageDescription when the caller has it:
    it identifies ScanImage 3.x files and gives a 2016+ file its acquisition start time.

    Raises :class:`~si_explorer.errors.MetadataError` when the ScanImage header is present
    but its sizes are impossible (past the end of the file, overlapping the first IFD).

    >>> import struct
    >>> frame_data = b"SI.hChannels.channelSave = [1 2]\\nSI.hRoiManager.scanFrameRate = 30\\n\\0"
    >>> header = b"II+\\0\\x08\\0\\0\\0" + struct.pack("<Q", 32 + len(frame_data))
    >>> header += struct.pack("<4I", SCANIMAGE_MAGIC, 4, len(frame_data), 0)
    >>> data = header + frame_data
    >>> md = read_metadata("rec.tif", lambda offset, n: data[offset : offset + n])
    >>> md.flavor, md.version, md["SI.hChannels.channelSave"], md.channel_save
    ('scanimage', 4, [1, 2], [1, 2])
    >>> read_metadata("other.tif", lambda offset, n: b"II*\\0" + bytes(n)) is None
    True
    """
    path = os.fspath(path)
    description = _decode(first_description) if first_description is not None else None
    head = read_bytes(0, 32)
    if len(head) >= 32 and head[:4] == b"II+\x00":
        magic, version, size0, size1 = struct.unpack_from("<4I", head, 16)
        if magic == SCANIMAGE_MAGIC:
            frame_data, roi_json = _read_blocks(path, read_bytes, head, version, size0, size1)
            return ScanImageMetadata(
                path, "scanimage", version, frame_data, roi_json, first_description=description
            )
    if description is not None and description.lstrip().startswith("state."):
        return ScanImageMetadata(path, "scanimage3", None, description, None, description)
    return None


def _read_blocks(path, read_bytes, head, version, size0, size1) -> tuple[bytes, bytes]:
    if version not in _KNOWN_VERSIONS:
        raise MetadataError(
            path,
            f"ScanImage header version {version} is not one of the known versions "
            f"{', '.join(map(str, _KNOWN_VERSIONS))}; state the layout to open the file anyway",
        )
    if size0 == 0 or size0 > _MAX_BLOCK or size1 > _MAX_BLOCK:
        raise MetadataError(
            path,
            f"ScanImage header gives impossible metadata sizes (FrameData {size0:,} bytes, "
            f"ROI JSON {size1:,} bytes)",
        )
    end = 32 + size0 + size1
    ifd0 = struct.unpack_from("<Q", head, 8)[0]
    if ifd0 and ifd0 < end:
        raise MetadataError(
            path,
            f"ScanImage header says its metadata fills bytes 32..{end:,}, but the first "
            f"IFD starts at byte {ifd0:,}",
        )
    frame_data = read_bytes(32, size0)
    roi_json = read_bytes(32 + size0, size1) if size1 else b""
    if len(frame_data) < size0 or len(roi_json) < size1:
        got = 32 + len(frame_data) + len(roi_json)
        raise MetadataError(
            path,
            f"ScanImage header says its metadata fills bytes 32..{end:,}, but the file "
            f"ends at byte {got:,}",
        )
    return frame_data, roi_json


def _decode(data: bytes | str) -> str:
    """Text up to the first NUL (ScanImage terminates its blocks with one)."""
    if isinstance(data, str):
        nul = data.find("\0")
        return data if nul < 0 else data[:nul]
    nul = data.find(b"\0")
    # A memoryview slice avoids copying tens of MB before decoding them.
    return str(memoryview(data)[: len(data) if nul < 0 else nul], "utf-8", "replace")


def _raw_values(parts: list[str]) -> dict[str, str]:
    """``_KEY_LINE.split`` output -> {key: raw value} in file order, last occurrence winning."""
    raw: dict[str, str] = {}
    first = _FIRST_KEY.match(parts[0])
    if first:
        raw[first.group(1)] = parts[0][first.end() :]
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        raw.pop(key, None)
        raw[key] = value
    return raw


def _normalise_newlines(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _excerpt(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_page_description(
    text: bytes | str | None, keys: Iterable[str] | None = None
) -> dict[str, Any]:
    """Parse one page's ImageDescription (``frameNumbers = 1`` lines, or 3.x ``state.`` lines).

    Values are MATLAB literals (see :mod:`~si_explorer.scanimage.matlab`); a value that does
    not parse is kept as :class:`Unparsed` text rather than failing, because a bad auxiliary
    field must not hide the timestamps. With ``keys``, only those keys are looked up, which
    is what a caller reading the timestamps of many pages wants.

    >>> d = parse_page_description("frameNumbers = 7\\nframeTimestamps_sec = 0.2333\\n"
    ...                            "epoch = [2021 11  5  9 50 13.560]\\nI2CData = {}")
    >>> d["frameNumbers"], d["frameTimestamps_sec"], d["epoch"]
    (7, 0.2333, [2021, 11, 5, 9, 50, 13.56])
    >>> parse_page_description("frameNumbers = 7\\nframeTimestamps_sec = 0.5",
    ...                        keys=["frameTimestamps_sec"])
    {'frameTimestamps_sec': 0.5}
    """
    if text is None:
        return {}
    text = _decode(text)
    if keys is not None:
        found = {}
        for key in keys:
            m = re.search(r"(?:^|[\r\n])[ \t]*" + re.escape(key) + r"[ \t]*=([^\r\n]*)", text)
            if m:
                found[key] = _lenient(m.group(1))
        return found
    result = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key and not any(c in key for c in " '[]{}<>%"):
            result[key] = _lenient(value)
    return result


def _lenient(raw: str) -> Any:
    try:
        return parse_value(raw)
    except MatlabSyntaxError:
        return Unparsed(raw.strip())


class ScanImageMetadata:
    """The metadata of one ScanImage file: lazily parsed keys plus the derived facts.

    Keys are the FrameData names (``"SI.hStackManager.actualNumSlices"``) for ScanImage
    2016+, and the ``state.`` names (``"state.acq.numberOfFrames"``) for ScanImage 3.x.
    Lookups parse only the requested value. Returned lists are fresh objects (container
    values are parsed again on each access, scalars are cached), so they can be modified.

    >>> md = ScanImageMetadata("rec.tif", "scanimage", 4,
    ...                        b"SI.hChannels.channelSave = 1\\nSI.hScan2D.logAverageFactor = 2\\n"
    ...                        b"SI.hRoiManager.scanFrameRate = 30\\n", b"")
    >>> md["SI.hScan2D.logAverageFactor"], md.get("SI.missing", "n/a"), "SI.x" in md
    (2, 'n/a', False)
    >>> md.keys()
    ['SI.hChannels.channelSave', 'SI.hScan2D.logAverageFactor', 'SI.hRoiManager.scanFrameRate']
    >>> md.frame_rate, md.channel_save
    (15.0, [1])
    """

    def __init__(
        self,
        path: str | os.PathLike,
        flavor: str,
        version: int | None,
        frame_data: bytes | str,
        roi_json: bytes | str | None,
        first_description: bytes | str | None = None,
    ):
        if flavor not in ("scanimage", "scanimage3"):
            raise ValueError(f"unknown ScanImage flavor {flavor!r}")
        self.path = os.fspath(path)
        self.flavor = flavor
        self.version = version
        self._frame_data = frame_data
        self._roi_json = roi_json
        self.first_description = None if first_description is None else _decode(first_description)
        self._scalars: dict[str, Any] = {}
        self._search_text: str | None = None
        self._raw_values: dict[str, str] | None = None  # every key, once indexed
        self._found: dict[str, str | None] = {}  # keys looked up one at a time
        self.parse_count = 0  # values parsed so far (lets tests prove the parsing is lazy)

    def __repr__(self) -> str:
        version = f" v{self.version}" if self.version is not None else ""
        return f"<ScanImageMetadata {self.flavor}{version} {self.path!r}>"

    def __getstate__(self):
        # Parsed state is cheap to rebuild; the raw blocks are all that needs to travel.
        return {
            "path": self.path,
            "flavor": self.flavor,
            "version": self.version,
            "frame_data": self.frame_data_text,
            "roi_json": self._roi_json,
            "first_description": self.first_description,
        }

    def __setstate__(self, state):
        self.__init__(**state)

    # -- raw text and the key index ----------------------------------------------------

    @cached_property
    def frame_data_text(self) -> str:
        """FrameData (2016+) or the ``state.`` header (3.x) as text, NUL terminator removed."""
        text = _decode(self._frame_data)
        self._frame_data = None  # the text replaces the bytes
        return text

    @property
    def _kind(self) -> str:
        return "FrameData key" if self.flavor == "scanimage" else "header key"

    def _searchable(self) -> str:
        """FrameData with LF line ends; indexes every key at once when that is quick."""
        if self._search_text is None:
            text = _normalise_newlines(self.frame_data_text)
            self._search_text = text
            # A real FrameData has a few hundred keys (its bulk is in a few waveform
            # lines): one regex split indexes them all. A text of very many short lines
            # would take about a second, so its keys are then found one at a time instead.
            parts = _KEY_LINE.split(text, maxsplit=_INDEX_AT_ONCE_MAX_KEYS)
            if len(parts) < 2 * _INDEX_AT_ONCE_MAX_KEYS + 1:
                self._raw_values = _raw_values(parts)
        return self._search_text

    def _index(self) -> dict[str, str]:
        """Every key's raw value, in file order (the last one wins for a repeated key)."""
        if self._raw_values is None:
            self._raw_values = _raw_values(_KEY_LINE.split(self._searchable()))
        return self._raw_values

    def _find(self, key: str) -> str | None:
        """The raw value of ``key``, found without indexing every key when that is slow."""
        text = self._searchable()
        if self._raw_values is not None:
            return self._raw_values.get(key)
        try:
            return self._found[key]
        except KeyError:
            pass
        value = None
        end = len(text)
        # The last occurrence wins, as in the full index; str.rfind skips megabytes fast.
        while (pos := text.rfind(key, 0, end)) >= 0:
            line = pos
            while line > 0 and text[line - 1] in " \t":
                line -= 1
            after = _AFTER_KEY.match(text, pos + len(key))
            if (line == 0 or text[line - 1] == "\n") and after:
                following = _KEY_LINE.search(text, after.end())
                value = text[after.end() : following.start() if following else len(text)]
                break
            end = pos + len(key) - 1
        self._found[key] = value
        return value

    def raw(self, key: str) -> str:
        """The unparsed right-hand side of ``key`` (KeyError when absent).

        >>> ScanImageMetadata("a.tif", "scanimage", 4, "SI.a = [1 2]  \\n", "").raw("SI.a")
        '[1 2]'
        """
        value = self._find(key) if isinstance(key, str) else None
        if value is None:
            raise KeyError(key)
        return value.strip()

    def __getitem__(self, key: str) -> Any:
        try:
            return self._scalars[key]
        except KeyError:
            pass
        raw = self.raw(key)
        try:
            value = parse_value(raw)
        except MatlabSyntaxError as exc:
            raise MetadataError(
                self.path, f"{self._kind} {key}: cannot parse '{_excerpt(raw)}' ({exc.problem})"
            ) from None
        finally:
            self.parse_count += 1
        if not isinstance(value, (list, dict)):
            self._scalars[key] = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """The parsed value of ``key``, or ``default`` when the file does not have the key."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def keys(self) -> list[str]:
        """Every key, in file order (the last one wins when ScanImage repeated a key)."""
        return list(self._index())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._index())

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        """Every key parsed: slow for FrameData with large waveforms (seconds for tens of MB).

        Values that do not parse are kept as :class:`Unparsed` text, or raise
        :class:`~si_explorer.errors.MetadataError` with ``strict=True``.

        >>> ScanImageMetadata("a.tif", "scanimage", 4, "SI.a = 1\\nSI.b = [1 2", "").to_dict()
        {'SI.a': 1, 'SI.b': Unparsed('[1 2')}
        """
        result = {}
        for key in self._index():
            try:
                result[key] = self[key]
            except MetadataError:
                if strict:
                    raise
                result[key] = Unparsed(self.raw(key))
        return result

    # -- ROI groups --------------------------------------------------------------------

    @cached_property
    def roi_groups(self) -> dict | None:
        """The ROI-group JSON (``{"RoiGroups": {...}}``) as a dict; ``{}`` when the file has
        none, ``None`` for ScanImage 3.x. Invalid JSON raises MetadataError."""
        if self.flavor == "scanimage3":
            return None
        text = _decode(self._roi_json or b"").strip()
        if not text:
            return {}
        try:
            groups = json.loads(text)
        except ValueError as exc:
            raise MetadataError(self.path, f"the ROI-group JSON is invalid: {exc}") from None
        if not isinstance(groups, dict):
            raise MetadataError(
                self.path, f"the ROI-group JSON is a {type(groups).__name__}, not an object"
            )
        return groups

    @property
    def imaging_rois(self) -> list[dict]:
        """The ROIs of the imaging ROI group as a list (ScanImage writes one ROI as an object)."""
        groups = self.roi_groups or {}
        group = (groups.get("RoiGroups") or {}).get("imagingRoiGroup") or {}
        return as_list(group.get("rois"))

    # -- derived facts -----------------------------------------------------------------

    @cached_property
    def channel_save(self) -> list[int]:
        """The saved channels, 1-based, in the order their pages are interleaved."""
        if self.flavor == "scanimage3":
            ids = [n for n in range(1, 5) if self.get(f"state.acq.savingChannel{n}")]
            count = self.get("state.acq.numberOfChannelsSave")
            if not ids and isinstance(count, int) and count > 0:
                ids = list(range(1, count + 1))
            if not ids:
                raise MetadataError(self.path, "the ScanImage 3 header names no saved channel")
            return ids
        if "SI.hChannels.channelSave" not in self:
            raise MetadataError(self.path, "FrameData has no SI.hChannels.channelSave")
        value = self["SI.hChannels.channelSave"]
        values = flatten(value)
        if not values or not all(is_whole(v) and v >= 1 for v in values):
            raise MetadataError(
                self.path,
                f"FrameData key SI.hChannels.channelSave: expected channel numbers, "
                f"got '{_excerpt(self.raw('SI.hChannels.channelSave'))}'",
            )
        return [int(v) for v in values]

    @cached_property
    def structure(self) -> ScanStructure:
        """How the saved frames are ordered (slices, frames per slice, flyback, averaging).

        Raises MetadataError when the settings contradict each other.
        """
        if self.flavor == "scanimage3":
            return self._structure_si3()
        return self._structure_2016()

    def _whole(self, key: str, default: int | None = None, minimum: int = 0) -> int | None:
        """A key that must hold a whole number (``[]`` and absent give ``default``)."""
        value = self.get(key)
        if value is None or value == []:
            return default
        if isinstance(value, bool):
            value = int(value)
        if not is_whole(value) or value < minimum:
            raise MetadataError(
                self.path,
                f"{self._kind} {key}: expected a whole number >= {minimum}, got "
                f"'{_excerpt(self.raw(key))}'",
            )
        return int(value)

    def _whole_or_none(self, key: str) -> int | None:
        """A count that may be absent, Inf or otherwise unusable: then None, never an error."""
        value = self.get(key)
        return int(value) if is_whole(value) and not isinstance(value, bool) else None

    def _structure_2016(self) -> ScanStructure:
        channels = len(self.channel_save)
        average = self._whole("SI.hScan2D.logAverageFactor", 1, minimum=1)
        fast_z = bool(self.get("SI.hFastZ.enable", False))
        slices = self._whole("SI.hStackManager.actualNumSlices", None, minimum=1)
        if slices is None:
            slices = self._whole("SI.hStackManager.numSlices", 1, minimum=1)
        # Inf ("until stopped") is a valid setting for a single-plane acquisition.
        unbounded = self.get("SI.hStackManager.framesPerSlice") == math.inf
        raw_per_slice = 1 if unbounded else self._whole("SI.hStackManager.framesPerSlice", 1, 1)
        flyback = 0
        if "SI.hStackManager.enable" in self:
            # ScanImage 2020+: numSlices and friends keep their values when stacks are
            # switched off, so only the enable flags say whether a stack was acquired.
            volumetric = bool(self["SI.hStackManager.enable"]) or fast_z
            if not volumetric:
                slices = 1
            else:
                per_volume = self._whole("SI.hStackManager.numFramesPerVolume", None)
                with_flyback = self._whole("SI.hStackManager.numFramesPerVolumeWithFlyback", None)
                if per_volume is not None and per_volume != slices * raw_per_slice:
                    if per_volume == slices:
                        raw_per_slice = 1  # fast stacks take one frame per slice
                    else:
                        raise MetadataError(
                            self.path,
                            f"SI.hStackManager.numFramesPerVolume is {per_volume}, but "
                            f"actualNumSlices ({slices}) x framesPerSlice ({raw_per_slice}) "
                            f"is {slices * raw_per_slice}",
                        )
                if per_volume is not None and with_flyback is not None:
                    flyback = with_flyback - per_volume
                    if flyback < 0:
                        raise MetadataError(
                            self.path,
                            f"SI.hStackManager.numFramesPerVolumeWithFlyback ({with_flyback}) "
                            f"is smaller than numFramesPerVolume ({per_volume})",
                        )
        else:
            # ScanImage 2016-2019: a fast stack when FastZ is on (its frames per volume
            # include the discarded flyback frames), a slow stack when numSlices > 1.
            if fast_z:
                raw_per_slice = 1
                total = self._whole("SI.hFastZ.numFramesPerVolume", None)
                if total is not None:
                    flyback = total - slices
                    if flyback < 0:
                        raise MetadataError(
                            self.path,
                            f"SI.hFastZ.numFramesPerVolume ({total}) is smaller than the "
                            f"number of slices ({slices})",
                        )
                elif self.get("SI.hFastZ.discardFlybackFrames"):
                    flyback = self._whole("SI.hFastZ.numDiscardFlybackFrames", 0)
            volumetric = slices > 1 or flyback > 0
        if not volumetric:
            # framesPerSlice is then the frames of one acquisition.
            promised = None if unbounded or raw_per_slice % average else raw_per_slice // average
            return ScanStructure(channels=channels, average=average, promised_frames=promised)
        if raw_per_slice % average:
            raise MetadataError(
                self.path,
                f"SI.hStackManager.framesPerSlice ({raw_per_slice}) is not a multiple of "
                f"SI.hScan2D.logAverageFactor ({average}), so the saved frames per slice "
                "are unknown",
            )
        volumes = self._whole_or_none("SI.hStackManager.actualNumVolumes")
        if volumes is None:
            volumes = self._whole_or_none("SI.hStackManager.numVolumes")
        saved_per_volume = slices * (raw_per_slice // average) + flyback
        return ScanStructure(
            channels=channels,
            slices=slices,
            frames_per_slice=raw_per_slice // average,
            flyback_frames=flyback,
            average=average,
            volumetric=True,
            raw_frames_per_volume=slices * raw_per_slice + flyback,
            promised_frames=None if volumes is None else volumes * saved_per_volume,
        )

    def _structure_si3(self) -> ScanStructure:
        ids = self.channel_save
        channels = self._whole("state.acq.numberOfChannelsSave", None, minimum=1)
        if channels is None:
            channels = len(ids)
        elif channels != len(ids) and any(
            f"state.acq.savingChannel{n}" in self for n in range(1, 5)
        ):
            raise MetadataError(
                self.path,
                f"state.acq.numberOfChannelsSave is {channels}, but the savingChannel flags "
                f"name {len(ids)} channel(s): {ids}",
            )
        slices = self._whole("state.acq.numberOfZSlices", 1, minimum=1)
        frames = self._whole("state.acq.numberOfFrames", 1, minimum=1)
        average = 1
        if self.get("state.acq.averaging"):
            # ScanImage 3.8 states how many frames it averaged into each saved frame
            # (numAvgFramesSave = 1: none, even with averaging on); versions without the key
            # average all frames of a slice into one.
            if "state.acq.numAvgFramesSave" in self:
                average = self._whole("state.acq.numAvgFramesSave", 1, minimum=1)
            else:
                average = frames
        if frames % average:
            raise MetadataError(
                self.path,
                f"state.acq.numberOfFrames ({frames}) is not a multiple of "
                f"state.acq.numAvgFramesSave ({average})",
            )
        promised = slices * (frames // average)
        if slices == 1:
            return ScanStructure(channels=channels, average=average, promised_frames=promised)
        return ScanStructure(
            channels=channels,
            slices=slices,
            frames_per_slice=frames // average,
            average=average,
            volumetric=True,
            raw_frames_per_volume=slices * frames,
            promised_frames=promised,
        )

    def positive_number(self, key: str) -> float | None:
        """The value of ``key`` when it is a positive finite number, else None."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value) if math.isfinite(value) and value > 0 else None

    @cached_property
    def _rates(self) -> tuple[float | None, float | None]:
        try:
            structure = self.structure
        except MetadataError:
            return None, None
        if self.flavor == "scanimage3":
            raw = self.positive_number("state.acq.frameRate")
            volume = None
        else:
            raw = self.positive_number("SI.hRoiManager.scanFrameRate")
            if raw is None:
                period = self.positive_number("SI.hRoiManager.scanFramePeriod")
                raw = 1.0 / period if period else None
            volume = self.positive_number("SI.hRoiManager.scanVolumeRate")
        if raw is None:
            return None, None
        saved = raw / structure.average
        if not structure.volumetric:
            return saved, saved
        if volume is None:
            volume = raw / structure.raw_frames_per_volume
        # With one frame per slice a plane is revisited once per volume; with several,
        # its consecutive frames are a (saved) frame period apart.
        return (volume if structure.frames_per_slice == 1 else saved), volume

    @property
    def frame_rate(self) -> float | None:
        """Saved frames per second of one plane (Hz).

        Single plane, LBM and multi-ROI: the scan frame rate divided by the averaging
        factor. Fast stacks (one frame per slice): the volume rate. Slow stacks with several
        frames per slice: the rate of consecutive frames within a slice.
        None when the metadata has no frame rate.
        """
        return self._rates[0]

    @property
    def volume_rate(self) -> float | None:
        """Volumes per second (Hz): ScanImage's scanVolumeRate for stacks, else the frame rate."""
        return self._rates[1]

    @property
    def frame_period(self) -> float | None:
        """``1 / frame_rate`` in seconds, or None."""
        rate = self.frame_rate
        return 1.0 / rate if rate else None

    @cached_property
    def pixel_size_um(self) -> tuple[float, float] | None:
        """(y, x) size of a pixel in micrometres, or None when the file cannot tell.

        From the first enabled ROI's scanfield (``sizeXY`` degrees x SI.objectiveResolution
        um/deg / ``pixelResolutionXY``), else from SI.hRoiManager.imagingFovUm / pixels.
        ScanImage 3.x headers lack the objective's um/deg, so they give None.
        """
        if self.flavor == "scanimage3":
            return None
        try:
            return self._pixel_size_from_roi() or self._pixel_size_from_fov()
        except (MetadataError, TypeError, ValueError, IndexError, ZeroDivisionError):
            return None

    def _pixel_size_from_roi(self) -> tuple[float, float] | None:
        um_per_deg = self.positive_number("SI.objectiveResolution")
        rois = [r for r in self.imaging_rois if roi_enabled(r)]
        if um_per_deg is None or not rois:
            return None
        field = as_list(rois[0].get("scanfields"))
        if not field:
            return None
        size = field[0].get("sizeXY")
        pixels = field[0].get("pixelResolutionXY")
        if not self.get("SI.hRoiManager.mroiEnable", False):
            # Without mROI the group may be a stale one; trust it only if it matches the frame.
            frame = [
                self.get("SI.hRoiManager.pixelsPerLine"),
                self.get("SI.hRoiManager.linesPerFrame"),
            ]
            if list(pixels) != frame:
                return None
        return (size[1] * um_per_deg / pixels[1], size[0] * um_per_deg / pixels[0])

    def _pixel_size_from_fov(self) -> tuple[float, float] | None:
        corners = self.get("SI.hRoiManager.imagingFovUm")
        width = self.positive_number("SI.hRoiManager.pixelsPerLine")
        height = self.positive_number("SI.hRoiManager.linesPerFrame")
        if not corners or not width or not height:
            return None
        xs = [c[0] for c in corners]
        ys = [c[1] for c in corners]
        return ((max(ys) - min(ys)) / height, (max(xs) - min(xs)) / width)

    @property
    def first_page(self) -> dict[str, Any] | None:
        """Page 0's description parsed (None when the caller did not give it)."""
        return (
            None
            if self.first_description is None
            else parse_page_description(self.first_description)
        )

    @cached_property
    def acquisition_start(self) -> _dt.datetime | None:
        """When the acquisition started: page 0's ``epoch`` (2016+) or the 3.x trigger time."""
        if self.first_description is None:
            return None
        if self.flavor == "scanimage3":
            value = self.get("state.internal.triggerTimeString")
            try:
                return _dt.datetime.strptime(str(value), "%m/%d/%Y %H:%M:%S.%f")
            except ValueError:
                return None
        epoch = parse_page_description(self.first_description, keys=["epoch"]).get("epoch")
        try:
            year, month, day, hour, minute, seconds = epoch
            whole = int(seconds)
            return _dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                whole,
                int(round((seconds - whole) * 1e6)),
            )
        except (TypeError, ValueError):
            return None

    @cached_property
    def software_version(self) -> str | None:
        """ScanImage's version, e.g. ``"2021.0.0"`` or ``"3.8.1"``; None when not recorded."""
        if self.flavor == "scanimage3":
            major, minor = self.get("state.software.version"), self.get("state.software.minorRev")
        else:
            parts = [self.get(f"SI.VERSION_{p}") for p in ("MAJOR", "MINOR", "UPDATE")]
            parts = [str(p) for p in parts if p is not None and p != ""]
            return ".".join(parts) or None
        if major is None:
            return None
        return f"{major}.{minor}" if minor is not None else str(major)


def is_whole(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value == int(value)


def flatten(value: Any) -> list:
    if isinstance(value, list):
        out = []
        for v in value:
            out.extend(flatten(v))
        return out
    return [value]


def as_list(value: Any) -> list:
    """ScanImage's JSON writes a single element as an object and an empty array as a
    ``{"_ArrayType_": ..., "_ArrayData_": null}`` object; both become lists here."""
    if value is None:
        return []
    if isinstance(value, dict):
        if "_ArrayType_" in value:
            data = value.get("_ArrayData_")
            return [] if data is None else as_list(data)
        return [value]
    if isinstance(value, list):
        return value
    return [value]


def roi_enabled(roi: dict) -> bool:
    enable = roi.get("enable", 1)
    return bool(enable) if not isinstance(enable, list) else bool(enable and enable[0])
