"""`ivgr ui` in Debian's headless Chromium: upload an image, ask, see the annotated image; bad input shows a message.

Playwright drives the system browser (`executable_path`); it downloads no browser of its own.
"""

from __future__ import annotations

import shutil

import pytest
from PIL import Image, ImageDraw

pytestmark = pytest.mark.slow

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 300_000  # a loaded 2-core CI box; an idle one answers in about a second


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is required (make test installs it: apt-get install -y chromium)"
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(str(profile), executable_path=chromium, headless=True,
                                                        args=FLAGS, viewport={"width": 1280, "height": 1000})
        try:
            tab = context.new_page()
            tab.set_default_timeout(WAIT_MS)
            tab.goto(server, wait_until="load")  # not networkidle: the page keeps a live connection
            yield tab
        finally:
            context.close()


def test_the_page_uploads_an_image_asks_and_shows_the_annotated_image(page, tmp_path):
    scene = tmp_path / "scene.png"
    img = Image.new("RGB", (320, 240), "white")
    ImageDraw.Draw(img).rectangle((40, 40, 120, 120), fill="red")
    img.save(scene)
    page.locator("#ivgr-upload input[type=file]").set_input_files(str(scene))
    page.locator("#ivgr-upload img").wait_for()  # the upload's preview

    page.locator("#ivgr-question textarea").fill("")
    page.locator("#ivgr-ask").click()
    page.get_by_text("type a question about the image").first.wait_for()  # a message in the page

    page.locator("#ivgr-question textarea").fill("What colour is the square?")
    page.locator("#ivgr-ask").click()
    annotated = page.locator("#ivgr-annotated img")
    annotated.wait_for()
    page.wait_for_function("() => { const i = document.querySelector('#ivgr-annotated img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    assert annotated.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [320, 240]
    answer = page.locator("#ivgr-answer textarea, #ivgr-answer input").first
    page.wait_for_function("() => { const a = document.querySelector('#ivgr-answer textarea, #ivgr-answer input');"
                           " return a && a.value.length > 0; }")
    assert answer.input_value() == "(no <answer> tag in the output)"

    shot = tmp_path / "ui.png"
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        colours = image.convert("RGB").resize((160, 120)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 20  # a rendered page, not a blank canvas


def test_the_run_tab_shows_the_archived_reference(page):
    page.get_by_role("tab", name="Run").click()
    page.get_by_text("entered at step").first.wait_for()
    assert page.get_by_text("box IoU").first.is_visible()
