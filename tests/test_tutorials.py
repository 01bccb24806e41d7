"""Every tutorial runs with --quick (exit 0: the facts its text states are asserted inside it) and
writes the pictures its text promises, each a PNG Pillow can open."""
import importlib.util
import os
import subprocess
import sys

import pytest
from PIL import Image

from oracle import SHARED_DATA

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIALS = os.path.join(ROOT, "tutorials")

# script -> (pictures it writes, takes more than 5 s on 2 cores, a package it needs)
EXPECTED = {
    "01_convolution_by_hand.py": (["sobel_on_a_one.png", "conv_matrix.png"], False, None),
    "02_sizes.py": (["zfnet_sizes.png"], False, None),
    "03_pooling.py": (["pooling.png"], False, None),
    "04_backpropagation.py": (["gradients.png"], False, None),
    "05_lenet_mnist.py": (["photo.png", "filters.png", "feature_maps.png"], True, None),
    "06_architectures.py": (["architectures.png"], True, None),
    "07_codes_without_labels.py": (["reconstructions.png", "neighbours.png", "ambiguous_sevens.png"], True,
                                   "convgrad.codes"),
    "08_your_own_data.py": (["digits_8x8.png", "gunpoint.png"], True, None),
    "09_from_pytorch.py": (["pytorch_vs_convgrad.png"], True, None),
}


def _params():
    for name, (pictures, slow, needs) in EXPECTED.items():
        marks = [pytest.mark.slow] if slow else []
        yield pytest.param(name, pictures, needs, id=name[:-3], marks=marks)


def test_every_tutorial_is_listed():
    scripts = sorted(f for f in os.listdir(TUTORIALS) if f.endswith(".py") and f[0].isdigit())
    assert scripts == sorted(EXPECTED)


@pytest.mark.parametrize("name, pictures, needs", list(_params()))
def test_tutorial_runs_and_draws(name, pictures, needs, tmp_path):
    if needs and importlib.util.find_spec(needs) is None:
        pytest.skip(f"{needs} is not in this checkout yet")
    args = [sys.executable, os.path.join(TUTORIALS, name), "--quick", "--out", str(tmp_path)]
    if "--data" in open(os.path.join(TUTORIALS, name), encoding="utf-8").read():
        args += ["--data", SHARED_DATA]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    for picture in pictures:
        path = tmp_path / picture
        assert path.exists(), f"{name} did not write {picture}"
        with Image.open(path) as image:
            image.load()
            assert image.format == "PNG" and min(image.size) > 50


def test_tutorial_without_matplotlib_prints_numbers_only(tmp_path):
    """Without the viz extra a tutorial still runs and says so in one line."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError('matplotlib blocked for this test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, os.path.join(TUTORIALS, "03_pooling.py"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "matplotlib is not installed" in result.stdout
    assert not list((tmp_path / "o").glob("*.png"))
