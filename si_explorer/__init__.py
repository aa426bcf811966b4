"""si-explorer: open huge ScanImage TIFFs lazily as (field, time, z, y, x) arrays and explore them.

>>> import si_explorer                                     # doctest: +SKIP
>>> stack = si_explorer.open("rec_00001_00001.tif")        # milliseconds, any page count
>>> stack.shape                                            # (field, time, z, y, x)
>>> trace = stack.timeseries(120, 200, z=3)                # reads one pixel per page
"""

from .errors import (
    CorruptTiffError,
    LayoutError,
    MetadataError,
    NotATiffError,
    ObjectChangedError,
    SIExplorerError,
    SourceNotFoundError,
    StackIndexError,
    TruncatedFileError,
    TruncatedFileWarning,
)
from .export import SourceOverwriteError, TargetExistsError, TiffAppender
from .open import open
from .ops import MappedStack
from .scanimage.layout import Layout, Roi
from .stack import Stack

__version__ = "0.1.0"

__all__ = [
    "open",
    "Stack",
    "Layout",
    "Roi",
    "SIExplorerError",
    "SourceNotFoundError",
    "NotATiffError",
    "CorruptTiffError",
    "TruncatedFileError",
    "TruncatedFileWarning",
    "LayoutError",
    "MetadataError",
    "StackIndexError",
    "ObjectChangedError",
    "MappedStack",
    "TiffAppender",
    "TargetExistsError",
    "SourceOverwriteError",
]


def __getattr__(name):
    # The widget pulls in anywidget/ipywidgets/matplotlib: load it only when asked for.
    if name == "Explorer":
        from .explorer import Explorer

        return Explorer
    raise AttributeError(f"module 'si_explorer' has no attribute {name!r}")
