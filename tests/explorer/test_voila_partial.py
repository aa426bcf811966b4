"""End to end in Voila: a Light Beads recording whose first volume is still being written.

The page says it is waiting for the first complete volume; the file grows (as ScanImage
writes it, part-way through a page), and in follow mode the first plane appears on its own.
"""

from __future__ import annotations

import json

import pytest

from .browser import goto_explorer, voila_server, write_notebook
from .e2e import check_plane, role

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_voila_waits_for_the_first_volume_then_follows(new_page, live_screenshot, tmp_path):
    import si_explorer
    from si_explorer.synthetic import Acquisition, write_acquisition

    files = write_acquisition(
        tmp_path / "done" / "beams_00001_00001.tif",
        Acquisition(height=24, width=32, volumes=4, channels=30, lbm=True),
    )
    data = files.paths[0].read_bytes()
    offsets = [int(o) for o in files.ifd_offsets[0]]
    live = tmp_path / "live_00001_00001.tif"
    live.write_bytes(data[: offsets[12] + 100])  # 12 beams and part of the 13th
    nb = write_notebook(
        tmp_path / "live.ipynb",
        [
            "import si_explorer\n"
            f"ex = si_explorer.Explorer({json.dumps(str(live))}, follow=True, follow_interval=0.2)"
            "\nex"
        ],
    )
    with voila_server(nb, nodelay=True) as (url, log):
        page = new_page()
        with live_screenshot(page):
            goto_explorer(page, url)
            from playwright.sync_api import expect

            expect(role(page, "status")).to_have_text(
                "waiting for the first complete volume", timeout=60_000
            )
            expect(role(page, "file-note")).to_contain_text(
                "12 pages after the last complete time point: an incomplete frame (12 of 30"
            )
            with open(live, "ab") as out:  # the rest of the first volume, and half a page more
                out.write(data[offsets[12] + 100 : offsets[30] + 500])
            stack = si_explorer.open(files.paths[0])
            check_plane(page, stack, 0, 0, 0)
            expect(role(page, "file-note")).to_have_text("")
            assert role(page, "error").is_hidden()
        assert "Traceback" not in log.read_text()
