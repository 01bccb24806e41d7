"""Screenshots of the workbench's five views for the README (docs/images/workbench-*.png).

    PYTHONPATH=src python scripts/workbench_screenshots.py runs/lenet/model.npz

Starts the workbench on a free port of 127.0.0.1 with the given checkpoint (and a temporary run
directory), drives Debian's Chromium with Playwright: draws a digit with the mouse, opens every
view, trains a short run in Learn, maps the codes, and saves each view as a palette PNG.
"""
import argparse
import io
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
# a hand-drawn-looking 3 on the 280x280 pad, as two strokes of (x, y) points
THREE = [[(92, 62), (130, 48), (172, 52), (192, 78), (184, 112), (150, 134), (128, 138)],
         [(150, 136), (186, 152), (200, 186), (186, 222), (146, 236), (104, 230), (82, 212)]]


def save(page, path, full_page=False, clip=None):
    from PIL import Image

    png = page.screenshot(full_page=full_page, clip=clip)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img = img.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img.save(path, optimize=True)
    print(f"{path}: {img.size[0]}x{img.size[1]}, {os.path.getsize(path) // 1024} KB")


def stroke(page, box, points):
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        page.mouse.move(box["x"] + x1, box["y"] + y1, steps=6)
    page.mouse.up()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--out", default=os.path.join(HERE, "..", "docs", "images"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from convgrad.web.app import create_app
    from web_helpers import ServerThread

    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, f"workbench-{name}.png")  # noqa: E731
    with tempfile.TemporaryDirectory() as runs, ServerThread(create_app([args.checkpoint], runs_dir=runs)) as srv, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_context(viewport={"width": 1240, "height": 760}, bypass_csp=True).new_page()
        page.goto(srv.url)
        page.wait_for_function("document.querySelectorAll('#model-select option').length > 0")
        box = page.locator("#pad").bounding_box()
        for points in THREE:
            stroke(page, box, points)
        page.wait_for_function("window.workbench.idle()")
        page.wait_for_timeout(300)
        save(page, out("draw"))

        page.click("#tabs button[data-view=inside]")
        page.wait_for_selector("#detail-sum")
        for channel in range(16):  # a conv2 value that its ReLU lets through
            page.locator(".layer[data-layer=conv2] .maps canvas").nth(channel).click(position={"x": 24, "y": 24})
            page.wait_for_function(f"document.getElementById('detail').textContent.includes('map {channel},')")
            if not page.text_content("#detail-sum").rstrip().endswith("→ 0.0000"):
                break
        page.wait_for_timeout(400)
        save(page, out("inside"), clip={"x": 0, "y": 0, "width": 1240, "height": 1180}, full_page=True)

        page.click("#tabs button[data-view=arith]")
        for name, value in (("size", 6), ("kernel", 3), ("stride", 2), ("padding", 1), ("dilation", 1)):
            page.fill(f"#arith-{name}", str(value))
        page.wait_for_function("document.getElementById('arith-output').dataset.size === '3'")
        page.wait_for_timeout(450 * 4 + 100)
        save(page, out("arithmetic"))

        page.click("#tabs button[data-view=learn]")
        page.fill("#learn-epochs", "3")
        page.click("#learn-start")
        page.wait_for_selector("#learn-use", timeout=300000)
        page.wait_for_timeout(300)
        save(page, out("learn"))

        page.click("#tabs button[data-view=codes]")
        page.select_option("#model-select", index=0)
        page.click("#codes-go")
        page.wait_for_function("document.getElementById('codes-info').textContent.includes('test digits')")
        x, y = page.evaluate("window.workbench.codes.xy[5]")
        mbox = page.locator("#codes-map").bounding_box()
        page.mouse.click(mbox["x"] + x, mbox["y"] + y)
        page.wait_for_function("document.querySelectorAll('#neighbours figure').length === 9")
        page.mouse.move(mbox["x"] + x, mbox["y"] + y)
        page.wait_for_timeout(200)
        save(page, out("codes"))
        browser.close()


if __name__ == "__main__":
    main()
