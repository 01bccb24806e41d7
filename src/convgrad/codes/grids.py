"""Grids of images with short captions, drawn with Pillow (no plotting library needed).

``image_grid`` lays out (N, C, H, W) images in [0, 1] row by row, each tile enlarged ``scale``
times with an optional caption line under it (the label and distance of a neighbour, the two
classes of an ambiguous digit). Grey (C = 1) and colour (C = 3) images both work.
"""
import numpy as np

from ..errors import ShapeError

CAPTION_HEIGHT = 12
GAP = 2


def _tiles(images):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ShapeError(f"image_grid: expected images (N, 1 or 3, H, W), got {images.shape}")
    pixels = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)
    return pixels[:, 0] if images.shape[1] == 1 else pixels.transpose(0, 2, 3, 1)


def image_grid(images, nrow=8, captions=None, scale=2, highlight=None):
    """A PIL image of the tiles, ``nrow`` per row.

    Args:
        images: (N, C, H, W) in [0, 1].
        nrow: tiles per row.
        captions: None or N short strings.
        scale: enlargement of each tile (nearest neighbour).
        highlight: indices of tiles framed in red (e.g. the query).

    Returns:
        A PIL ``Image`` (mode "RGB").
    """
    from PIL import Image, ImageDraw

    tiles = _tiles(images)
    n, h, w = len(tiles), tiles.shape[1] * scale, tiles.shape[2] * scale
    if captions is not None and len(captions) != n:
        raise ShapeError(f"image_grid: {n} images but {len(captions)} captions")
    cols = max(1, min(nrow, n))
    rows = -(-n // cols)
    cap = CAPTION_HEIGHT if captions is not None else 0
    canvas = Image.new("RGB", (cols * (w + GAP) + GAP, rows * (h + cap + GAP) + GAP), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, tile in enumerate(tiles):
        x, y = GAP + (i % cols) * (w + GAP), GAP + (i // cols) * (h + cap + GAP)
        canvas.paste(Image.fromarray(tile).convert("RGB").resize((w, h), Image.Resampling.NEAREST), (x, y))
        if highlight is not None and i in highlight:
            draw.rectangle([x - 1, y - 1, x + w, y + h], outline=(220, 0, 0), width=2)
        if captions is not None:
            draw.text((x + 1, y + h), str(captions[i]), fill=(0, 0, 0))
    return canvas


def save_grid(images, path, nrow=8, captions=None, scale=2, highlight=None):
    """:func:`image_grid` written to ``path`` (PNG); returns the path."""
    image_grid(images, nrow=nrow, captions=captions, scale=scale, highlight=highlight).save(path)
    return path
