"""The page index: where every page of a TIFF is, verified, without ScanImage knowledge.

``build_index(path)`` returns a :class:`PageIndex` (offsets of every page's IFD, pixels and
description, the common page shape and dtype). ``read_ifd(source, offset)`` decodes one IFD into
tag values, for code that needs more of a page than the index keeps.
"""

from .ifd import Ifd, Tag, TiffHeader, read_ifd
from .index import PageIndex, build_index
from .page import NonUniformPagesError

__all__ = [
    "Ifd",
    "NonUniformPagesError",
    "PageIndex",
    "Tag",
    "TiffHeader",
    "build_index",
    "read_ifd",
]
