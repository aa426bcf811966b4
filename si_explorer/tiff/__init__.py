"""The page index: where every page of a TIFF is, verified, without ScanImage knowledge.

Every read of this stage goes through one :class:`ByteSource` (``source.py``): positioned reads,
the size, the name errors show and a version for caches. :class:`LocalFile` is a local file (and
``ByteSource(path)`` opens one); a network or object-store source implements the same interface.

``build_index(source)`` returns a :class:`PageIndex` (offsets of every page's IFD, pixels and
description, the common page shape and dtype); ``extend_index(index)`` lengthens it after the
file grew. ``read_first_page(source)`` is the read of page 0 both start from (header, first IFD,
format, facts), for callers that only need to know what a file's pages are. ``read_ifd(source,
offset)`` decodes one IFD into tag values, for code that needs more of a page than the index
keeps.
"""

from .extend import extend_index
from .ifd import Ifd, Tag, TiffHeader, read_ifd
from .index import PageIndex, build_index
from .page import FirstPage, NonUniformPagesError, read_first_page
from .source import ByteSource, LocalFile

__all__ = [
    "ByteSource",
    "FirstPage",
    "Ifd",
    "LocalFile",
    "NonUniformPagesError",
    "PageIndex",
    "Tag",
    "TiffHeader",
    "build_index",
    "extend_index",
    "read_first_page",
    "read_ifd",
]
