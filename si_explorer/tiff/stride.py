"""The fast path: predict a constant page stride from pages 0 and 1, then verify it cheaply.

ScanImage writes every page as the same IFD, the same fixed-size description slot and the same
number of pixel bytes, so page k usually sits at ``IFD0 + k * stride``. Usually is not always:
tifffile once trusted such a stride and returned wrong pixels for a real file (its issue 29). So
the prediction is only used after it survives checks that cost a few dozen small reads whatever
the page count:

- IFD1 must be IFD0 byte for byte, except that every value that locates per-page bytes (the
  description pointer, strip offsets, out-of-line arrays, the next-IFD pointer) is shifted by the
  stride; blocks shared by all pages (ScanImage's Software/Artist header text) keep their pointer.
- The page count comes from file-size arithmetic over the byte extent of page 0.
- The predicted last IFD, the two before it and ~32 sampled IFDs (evenly spread plus seeded
  random) must decode to IFD0 shifted by ``k * stride``; each sample's next pointer must be the
  predicted next IFD, and the last one's must end the chain (0) or point at the page being
  written in a truncated file.

What this cannot see: a pair of pages with compensating sizes between two samples (page j one
description longer, page j+1 shorter) leaves every checked byte where it is predicted. Only a
full walk can rule that out; real stride breaks (longer descriptions, a changed page size) shift
every later page and so the last IFD, which is always checked.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from .ifd import INTEGER_TYPES, TYPE_FORMATS, TYPE_SIZES, Ifd, IfdPastEnd, parse_ifd
from .page import (
    DATA_COUNT_TAGS,
    DATA_OFFSET_TAGS,
    IMAGE_DESCRIPTION,
    OTHER_OFFSET_TAGS,
    FirstPage,
)
from .source import ByteSource

EVEN_SAMPLES = 16
RANDOM_SAMPLES = 16


@dataclass(frozen=True)
class StrideLayout:
    """A verified constant-stride layout: page k is page 0 moved by ``k * stride`` bytes."""

    stride: int
    n_pages: int
    missing_bytes: int
    desc_shared: bool  # every page points at the same description bytes


def sample_pages(n_pages: int) -> list[int]:
    """The pages (besides page 1) whose IFDs verify a stride prediction of ``n_pages`` pages.

    Evenly spread ones catch a stride that drifts, seeded random ones (the seed is the page count,
    so an open is reproducible) keep a regular pattern of breaks from hiding between them, and
    the last pages pin the page count and the end of the chain.
    """
    n = n_pages
    pages = {1, n - 2, n - 1}
    pages.update(1 + i * (n - 2) // (EVEN_SAMPLES - 1) for i in range(EVEN_SAMPLES))
    rng = random.Random(n)
    pages.update(rng.randrange(1, n) for _ in range(RANDOM_SAMPLES))
    return sorted(k for k in pages if 1 <= k < n)


class _Template:
    """IFD0's bytes plus the positions of the values that move with the page.

    ``check(k)`` rebuilds the bytes page k's IFD must have and compares them with the file.
    """

    def __init__(self, ifd0: Ifd, stride: int):
        self.ifd0 = ifd0
        self.stride = stride
        header = ifd0.header
        self.wrap = None if header.bigtiff else 0xFFFFFFFF
        # (position in the IFD bytes, struct, page-0 value, modulus mask or None)
        self.shifts: list[tuple[int, struct.Struct, int, int | None]] = []
        # (page-0 offset, page-0 bytes, per-element struct for offsets or None for counts,
        #  page-0 offsets) of out-of-line strip/tile arrays
        self.arrays: list[tuple[int, bytes, struct.Struct | None, tuple[int, ...]]] = []
        self.blocks: list[tuple[int, int]] = []  # per-page out-of-line values of page 0
        self.shared: set[int] = set()  # codes whose out-of-line value all pages share
        self.next = struct.Struct(header.byteorder + header.offset_format)
        self.next_position = len(ifd0.raw) - header.offset_size

    def shift(self, position: int, letter: str, value: int) -> None:
        mask = self.wrap if letter == "I" else None
        self.shifts.append(
            (position, struct.Struct(self.ifd0.header.byteorder + letter), value, mask)
        )

    def expected(self, k: int) -> bytearray | None:
        """IFD k's bytes as predicted, next pointer still page 0's (None if unrepresentable)."""
        base = k * self.stride
        expected = bytearray(self.ifd0.raw)
        try:
            for position, packer, value, mask in self.shifts:
                value += base
                packer.pack_into(expected, position, value if mask is None else value & mask)
        except struct.error:  # the shifted value does not fit its field: not this layout
            return None
        return expected

    def check(self, source: ByteSource, k: int, n_pages: int, partial: bool = False) -> int | None:
        """Compare page k with the prediction; return its next-IFD pointer, or None.

        Page k < n_pages-1 must link to page k+1. The last complete page may end the chain (0)
        or link to the predicted page n_pages (a page still being written). ``partial`` checks
        the IFD of that page being written: its arrays may lie past the end of the file.
        """
        ifd0 = self.ifd0
        base = k * self.stride
        expected = self.expected(k)
        if expected is None:
            return None
        data = source.read(ifd0.offset + base, len(expected))
        if len(data) != len(expected):
            return None
        (actual,) = self.next.unpack_from(data, self.next_position)
        predicted = ifd0.next_offset + base
        if self.wrap is not None:
            predicted &= self.wrap
        if not partial and actual != predicted and (k < n_pages - 1 or actual != 0):
            return None
        self.next.pack_into(expected, self.next_position, actual)
        if data != expected:
            return None
        for offset, page0, packer, offsets0 in self.arrays:
            block = source.read(offset + base, len(page0))
            if len(block) != len(page0):
                if partial:
                    continue
                return None
            if packer is None:
                if block != page0:
                    return None
            elif any(
                (value - value0 - base) & (self.wrap or -1)
                for value, value0 in zip(packer.unpack(block), offsets0, strict=True)
            ):
                return None
        return actual


def _build_template(ifd0: Ifd, ifd1: Ifd, stride: int, source: ByteSource) -> _Template | None:
    """Classify every value of IFD0 by comparing it with IFD1; None if they are not shifted
    copies of each other."""
    if len(ifd0.raw) != len(ifd1.raw):
        return None
    header = ifd0.header
    template = _Template(ifd0, stride)
    value_position = 4 + header.offset_size  # code, type, count, then the value field
    wrap = template.wrap if template.wrap is not None else -1
    for tag0, tag1 in zip(ifd0.entries, ifd1.entries, strict=True):
        if (tag0.code, tag0.type, tag0.count) != (tag1.code, tag1.type, tag1.count):
            return None
        if tag0.nbytes < 0:
            return None
        position = tag0.entry_offset - ifd0.offset + value_position
        is_offsets = tag0.code in DATA_OFFSET_TAGS
        is_counts = tag0.code in DATA_COUNT_TAGS
        if (is_offsets or is_counts) and tag0.type not in INTEGER_TYPES:
            return None
        if tag0.inline:
            if is_offsets:
                item = TYPE_SIZES[tag0.type]
                for j, value in enumerate(tag0.value):
                    template.shift(position + j * item, TYPE_FORMATS[tag0.type], value)
            continue
        pointer0, pointer1 = tag0.value_offset, tag1.value_offset
        if (pointer1 - pointer0 - stride) & wrap == 0:
            template.shift(position, header.offset_format, pointer0)
            template.blocks.append((pointer0, pointer0 + tag0.nbytes))
        elif pointer1 == pointer0 and not is_offsets:
            template.shared.add(tag0.code)
            continue
        else:
            return None
        if is_offsets or is_counts:
            if pointer0 + tag0.nbytes > source.size:
                return None
            page0 = source.read(pointer0, tag0.nbytes)
            packer = struct.Struct(f"{header.byteorder}{tag0.count}{TYPE_FORMATS[tag0.type]}")
            if is_offsets:
                template.arrays.append((pointer0, page0, packer, packer.unpack(page0)))
            else:
                template.arrays.append((pointer0, page0, None, ()))
    return template


def predict_stride(source: ByteSource, first: FirstPage) -> StrideLayout | None:
    """Verify that the pages sit at a constant stride; None when any check fails.

    ``first`` is page 0. None sends the caller to the exact walk, which also decides between
    "truncated" and "corrupt" for files whose first pages are already odd.
    """
    prepared = _prepare(source, first)
    if prepared is None:
        return None
    template, n_pages, remainder = prepared
    return _verify(source, template, sample_pages(n_pages), n_pages, remainder)


def extend_stride(
    source: ByteSource, first: FirstPage, stride: int, n_old: int
) -> StrideLayout | None:
    """The stride layout of a file that had ``n_old`` verified pages and has grown since.

    Only the pages that are new are checked (their last three, the first one, and a spread
    of the others) plus the old last page, whose next pointer must now lead into them: the
    rest was verified when the file was opened. None when the file no longer fits ``stride``.
    """
    prepared = _prepare(source, first)
    if prepared is None or prepared[0].stride != stride or prepared[1] < n_old:
        return None
    template, n_pages, remainder = prepared
    pages = {n_old - 1, n_old, n_pages - 3, n_pages - 2, n_pages - 1}
    pages.update(n_old + i * (n_pages - n_old) // EVEN_SAMPLES for i in range(EVEN_SAMPLES))
    pages = sorted(k for k in pages if 1 <= k < n_pages)
    return _verify(source, template, pages, n_pages, remainder)


def _prepare(source: ByteSource, first: FirstPage):
    """(template, complete pages by file-size arithmetic, bytes after them), or None."""
    ifd0, facts0 = first.ifd, first.facts
    header = ifd0.header
    size = source.size
    next0 = ifd0.next_offset
    stride = next0 - ifd0.offset
    if next0 == 0 or stride <= 0 or any(code in OTHER_OFFSET_TAGS for code in ifd0.tags):
        return None
    try:
        ifd1 = parse_ifd(source, next0, header, 1)
    except IfdPastEnd:
        return None
    template = _build_template(ifd0, ifd1, stride, source)
    if template is None:
        return None

    # Page 0's extent: its IFD, its own out-of-line values and its pixels (not shared blocks).
    low = min([ifd0.offset, facts0.data_start] + [start for start, _ in template.blocks])
    high = max([ifd0.end, facts0.data_end] + [end for _, end in template.blocks])
    if high - low > stride or high > size:
        return None
    n_pages, remainder = divmod(size - high, stride)
    n_pages += 1
    if n_pages < 2:
        return None
    return template, n_pages, remainder


def _verify(
    source: ByteSource, template: _Template, pages: list[int], n_pages: int, remainder: int
) -> StrideLayout | None:
    ifd0 = template.ifd0
    stride = template.stride
    checked = [*pages, n_pages]  # and the page being written, when there is one
    ranges = [(ifd0.offset + k * stride, len(ifd0.raw)) for k in checked]
    ranges += [
        (offset + k * stride, len(page0)) for k in checked for offset, page0, *_ in template.arrays
    ]
    source.prefetch(*zip(*ranges))
    last_next = 0
    for k in pages:
        actual = template.check(source, k, n_pages)
        if actual is None:
            return None
        if k == n_pages - 1:
            last_next = actual

    missing = 0
    if last_next and remainder:
        # The chain goes on into the bytes after the last complete page: a page being written.
        # If its IFD is already complete it must be one more shifted copy (its pixels are what
        # is missing); anything else means the stride broke and only a walk can tell.
        if ifd0.offset + n_pages * stride + len(ifd0.raw) <= source.size:
            if template.check(source, n_pages, n_pages + 1, partial=True) is None:
                return None
        missing = remainder
    return StrideLayout(stride, n_pages, missing, IMAGE_DESCRIPTION in template.shared)
