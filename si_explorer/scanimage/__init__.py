"""ScanImage knowledge: metadata parsing and page layouts (pure; no pixel reads).

* :mod:`.matlab` parses the MATLAB literals ScanImage writes.
* :mod:`.metadata` detects ScanImage files and parses their metadata lazily.
* :mod:`.layout` maps (field, time, z, channel) to pages and derives that map from metadata.
"""

from .layout import Layout, Roi, layout_for_pages, layout_from_metadata
from .matlab import MatlabSyntaxError, Symbol, parse_value
from .metadata import (
    ScanImageMetadata,
    ScanStructure,
    Unparsed,
    parse_page_description,
    read_metadata,
)

__all__ = [
    "Layout",
    "MatlabSyntaxError",
    "Roi",
    "ScanImageMetadata",
    "ScanStructure",
    "Symbol",
    "Unparsed",
    "layout_for_pages",
    "layout_from_metadata",
    "parse_page_description",
    "parse_value",
    "read_metadata",
]
