"""What a stack knows about its acquisition: ScanImage metadata seen through the layout.

:class:`StackMetadata` is ``stack.metadata``: every frame-invariant ScanImage key (lazily
parsed), the ROI groups, frame rate and pixel size, plus what needs the layout: the nominal
time of each time point and the per-frame timestamps ScanImage wrote into each page.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .scanimage.metadata import parse_page_description


class StackMetadata:
    """ScanImage metadata of a stack. Unknown attributes are looked up on the parsed header.

    >>> md = stack.metadata                                   # doctest: +SKIP
    >>> md["SI.hRoiManager.scanFrameRate"], md.frame_rate     # doctest: +SKIP
    >>> md.timestamps[:5]          # seconds, read from the pages on first use  # doctest: +SKIP
    """

    def __init__(self, scanimage, planes):
        self.scanimage = scanimage
        self._planes = planes

    def for_planes(self, planes) -> StackMetadata:
        """The same metadata seen through another plane source (a stack that grew)."""
        return StackMetadata(self.scanimage, planes)

    def __getattr__(self, name):
        # Only called for names not found here: frame_rate, roi_groups, get, keys, ...
        if name.startswith("__") or name in ("scanimage", "_planes"):
            raise AttributeError(name)
        return getattr(self.scanimage, name)

    def __getitem__(self, key):
        return self.scanimage[key]

    def __contains__(self, key) -> bool:
        return key in self.scanimage

    def __repr__(self) -> str:
        return (
            f"<StackMetadata {self.scanimage.flavor} {self.scanimage.software_version or ''} "
            f"frame_rate={self.frame_rate} Hz pixel_size_um={self.pixel_size_um}>"
        )

    def time_seconds(self, n_times: int) -> np.ndarray | None:
        """Nominal time of each time point from the frame and volume rates (no file reads)."""
        layout = self._planes.layout
        frame_rate = self.scanimage.frame_rate
        if not frame_rate:
            return None
        t = np.arange(n_times)
        per_slice = layout.frames_per_slice
        stacked = layout.planes + layout.flyback > 1 and not layout.lbm
        volume_rate = self.scanimage.volume_rate or frame_rate
        if per_slice == 1:
            return t / (volume_rate if stacked else frame_rate)
        # Several frames per slice: consecutive frames are a frame period apart, volumes a
        # volume period apart.
        return (t // per_slice) / volume_rate + (t % per_slice) / frame_rate

    def page_description(self, field: int = 0, t: int = 0, z: int = 0) -> dict:
        """The per-frame description ScanImage wrote for one plane, parsed."""
        page = int(self._planes.page_numbers(field, t, z))
        return parse_page_description(self._planes.page_description(page))

    @cached_property
    def timestamps(self) -> np.ndarray:
        """``frameTimestamps_sec`` of every time point (field 0, z 0), read from the pages.

        One small read per time point; shows progress on long recordings.
        """
        n_times = self._planes.shape[1]
        values = np.full(n_times, np.nan)
        pages = self._planes.page_numbers(0, np.arange(n_times), 0)
        iterator = enumerate(pages.tolist())
        if n_times > 20_000:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, total=n_times, desc="timestamps", unit="frame")
        for i, page in iterator:
            stamp = parse_page_description(self._planes.page_description(page)).get(
                "frameTimestamps_sec"
            )
            if isinstance(stamp, (int, float)):
                values[i] = stamp
        return values
