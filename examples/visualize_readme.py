"""Make the pictures of the README's "Looking inside a trained network" section.

    convgrad train --out runs/lenet --record-filters 20 --health-every 20
    python examples/visualize_readme.py runs/lenet docs/images

Every picture comes from the public API (the same functions `convgrad visualize KIND` calls).
The filters demo runs on a small synthetic scene drawn here (a disc, a rotated square, a
triangle, a grating and an MNIST test digit), so no photograph with its own licence is needed.
"""
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

from convgrad import visualize
from convgrad.data import MNIST, mnist_transforms
from convgrad.visualize.common import load_model, trained_label


def test_scene(size=192):
    """A grey picture with edges at many angles: the classical filters' test card."""
    img = Image.new("L", (size, size), 30)
    draw = ImageDraw.Draw(img)
    draw.ellipse([18, 18, 78, 78], fill=220)
    centre, angle = np.array([140, 48]), np.deg2rad(20)
    corners = [centre + 30 * np.array([np.cos(angle + k * np.pi / 2), np.sin(angle + k * np.pi / 2)])
               for k in range(4)]
    draw.polygon([tuple(c) for c in corners], fill=180)
    draw.polygon([(20, 175), (80, 175), (50, 110)], fill=250)
    for x in range(104, 184, 12):
        draw.rectangle([x, 104, x + 5, 184], fill=200)
    digit = np.asarray(Image.fromarray(MNIST(train=False).data[0]).resize((56, 56), Image.Resampling.BILINEAR))
    pixels = np.asarray(img).copy()
    pixels[60:116, 60:116] = np.maximum(pixels[60:116, 60:116], digit)
    return pixels.astype(np.float64) / 255


def main(run_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    model, ckpt = load_model(run_dir)
    label = trained_label(model, ckpt)  # "lenet5 after 15 epochs"
    test = MNIST(train=False, transform=mnist_transforms())
    x, digit = test[0]
    name = f"test digit #0 (a {digit})"
    out = lambda f: os.path.join(out_dir, f)  # noqa: E731
    pictures = [
        visualize.filters(model, path=out("filters.png"), model_label=label),
        visualize.evolution(run_dir, path=out("evolution.png"), rows=6),
        visualize.features(model, x, layers=["act1", "act2"], grad=True, path=out("features.png"), input_name=name,
                           model_label=label),
        visualize.saliency(model, x, method="smoothgrad", path=out("saliency.png"), input_name=name,
                           model_label=label),
        visualize.curves(run_dir, path=out("curves.png")),
        visualize.confusion(model, test, path=out("confusion.png"), dataset_name="MNIST test set", model_label=label),
        visualize.mistakes(model, test, n=24, path=out("mistakes.png"), dataset_name="MNIST test set", model_label=label),
        visualize.filters_demo(test_scene(), path=out("filters-demo.png"), image_name="a test scene"),
        visualize.health(run_dir, path=out("health.png")),
    ]
    for picture in pictures:
        with Image.open(picture.path) as img:  # a 256-colour palette: a third of the bytes, same look
            small = img.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
        small.save(picture.path, optimize=True)
        print(f"{picture.path}: {os.path.getsize(picture.path) / 1024:.0f} KB  {picture.title}")
    print(visualize.format_filter_table(pictures[0].data["report"], header=pictures[0].title))


if __name__ == "__main__":
    main(*sys.argv[1:3])
