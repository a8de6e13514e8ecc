"""Pictures of a prediction, all in RGB: the index PNG, the overlay and its legend.

Everything here takes and returns RGB arrays (PIL's, Gradio's and the PNG files'
order); callers holding mmcv/OpenCV BGR images flip them once (``image[..., ::-1]``)
before drawing, so no palette colour is ever swapped.

This module imports only numpy, OpenCV and Pillow: ``tools/deploy/infer_onnx.py`` loads
it by its path where torch is not installed (a test runs it so).
"""
import logging
from typing import List, Mapping, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

LEGEND_WIDTH = 200  # px: a swatch and a class name of about 25 characters
#: zlib level of the PNGs written: 1 is several times faster than PIL's 6 on photos
#: and their overlays, for files a little larger (it is lossless all the same)
PNG_COMPRESSION = 1
ROW_HEIGHT = 18
#: The colour a found object is tinted with, RGB (the few-shot tools and page).
OBJECT_RGB = (255, 0, 0)
_FONT, _FONT_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.4


def class_palette(dataset_meta: Optional[Mapping]) -> Tuple[Tuple[str, ...], np.ndarray]:
    """Class names and their (N, 3) uint8 RGB palette from a model's ``dataset_meta``.

    A missing or short palette is completed with fixed random colours (seed 0), with a
    warning, so that the same class has the same colour in every file.
    """
    meta = dict(dataset_meta or {})
    classes = tuple(meta.get('classes') or ())
    palette = np.asarray(meta.get('palette') or np.zeros((0, 3)), dtype=np.uint8).reshape(-1, 3)
    if not classes:
        raise ValueError('The model carries no class names (dataset_meta["classes"]): '
                         'use a checkpoint written by tools/train.py, or set '
                         'model.dataset_meta = dict(classes=..., palette=...).')
    if len(palette) < len(classes):
        logging.getLogger(__name__).warning(
            '%d classes but %d palette colours: the rest get fixed random colours.',
            len(classes), len(palette))
        extra = np.random.default_rng(0).integers(0, 256, (len(classes) - len(palette), 3))
        palette = np.concatenate([palette, extra.astype(np.uint8)])
    return classes, palette[:len(classes)]


def save_index_png(pred: np.ndarray, palette: np.ndarray, path: str) -> None:
    """Write class indices (H, W) as a palette PNG (PIL mode ``P``): every viewer shows the
    palette colours, ``np.asarray(Image.open(path))`` gives the indices back.

    Raises:
        ValueError: more than 256 classes (a palette PNG holds 256 colours).
    """
    if len(palette) > 256 or (pred.size and int(pred.max()) > 255):
        raise ValueError(f'{len(palette)} classes do not fit a palette PNG (256 colours).')
    image = Image.fromarray(pred.astype(np.uint8), mode='P')
    flat = np.zeros((256, 3), np.uint8)
    flat[:len(palette)] = palette
    image.putpalette(flat.ravel().tolist())
    image.save(path, compress_level=PNG_COMPRESSION)


def overlay(image: np.ndarray, pred: np.ndarray, palette: np.ndarray,
            opacity: float = 0.5) -> np.ndarray:
    """The RGB image blended with each pixel's class colour: ``(1 - a) * image + a * colour``.

    Args:
        image: (H, W, 3) uint8 RGB.
        pred: (H, W) class indices.
        palette: (N, 3) uint8 RGB.
        opacity: 0 keeps the image, 1 paints the classes' colours exactly.
    """
    if image.shape[:2] != pred.shape:
        raise ValueError(f'Image {image.shape[:2]} and prediction {pred.shape} differ in size.')
    colours = palette[pred].astype(np.float32)
    blended = (1 - opacity) * image.astype(np.float32) + opacity * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def overlay_mask(image: np.ndarray, mask: np.ndarray, colour: Sequence[int] = OBJECT_RGB,
                 alpha: float = 0.5) -> np.ndarray:
    """The image with the pixels where ``mask == 1`` blended towards ``colour``.

    Args:
        image: (H, W, 3) uint8, in the channel order of ``colour`` (RGB or BGR).
        mask: (H, W), 1 where the object is.
        colour: three channel values.
        alpha: the colour's weight.
    """
    out = image.astype(np.float32)
    where = mask == 1
    out[where] = (1 - alpha) * out[where] + alpha * np.asarray(colour, np.float32)
    return out.astype(np.uint8)


class ClassShare(NamedTuple):
    """One row of a legend."""
    index: int
    name: str
    share: float   # fraction of the image's pixels, 0..1
    rgb: tuple


def class_shares(label: np.ndarray, classes: Sequence[str],
                 palette: np.ndarray) -> List[ClassShare]:
    """The classes present in ``label``, largest share first."""
    counts = np.bincount(label.ravel(), minlength=len(classes))
    order = sorted(np.flatnonzero(counts), key=lambda c: (-counts[c], c))
    return [ClassShare(int(c), str(classes[c]) if c < len(classes) else f'class {c}',
                       counts[c] / label.size, tuple(int(v) for v in palette[c]))
            for c in order]


def legend_height(num_rows: int) -> int:
    """Pixels a legend of ``num_rows`` rows needs."""
    return 6 + ROW_HEIGHT * num_rows


def draw_legend(pred: np.ndarray, classes: Sequence[str], palette: np.ndarray,
                height: int, max_rows: Optional[int] = None) -> np.ndarray:
    """A white (height, LEGEND_WIDTH, 3) RGB panel: a swatch of the class's exact palette
    colour, its name and its share of the picture, for the classes present, largest first.

    Rows that do not fit (or past ``max_rows``) are summed up as "+N more".
    """
    panel = np.full((height, LEGEND_WIDTH, 3), 255, np.uint8)
    counts = np.bincount(pred.ravel(), minlength=len(classes))
    present = [int(c) for c in np.argsort(-counts, kind='stable') if counts[c] > 0]
    rows = min(len(present), (height - 6) // ROW_HEIGHT, max_rows or len(present))
    if rows < len(present):  # keep the last row for the "+N more" line
        rows = max(rows - 1, 0)
    for row, cls in enumerate(present[:rows]):
        top = 4 + row * ROW_HEIGHT
        panel[top:top + ROW_HEIGHT - 4, 4:18] = palette[cls]
        share = 100.0 * counts[cls] / pred.size
        text = f'{classes[cls][:24]} {share:.0f}%'
        cv2.putText(panel, text, (24, top + ROW_HEIGHT - 6), _FONT, _FONT_SCALE,
                    (0, 0, 0), 1, cv2.LINE_AA)
    if rows < len(present):
        cv2.putText(panel, f'+{len(present) - rows} more', (24, 4 + (rows + 1) * ROW_HEIGHT - 6),
                    _FONT, _FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return panel


def overlay_with_legend(image: np.ndarray, pred: np.ndarray, classes: Sequence[str],
                        palette: np.ndarray, opacity: float = 0.5,
                        legend_rows: Optional[int] = None) -> np.ndarray:
    """:func:`overlay` on the left, :func:`draw_legend` on the right, as one RGB picture.

    The picture is as tall as the image or the legend, whichever is taller; pixels
    below a shorter image are white. ``legend_rows`` fixes the legend's room (and so the
    picture's size, as a video needs); by default it has a row for each class present.

    Returns:
        (max(H, legend height), W + LEGEND_WIDTH, 3) uint8 RGB; the image at [:H, :W].
    """
    h, w = pred.shape
    rows = legend_rows if legend_rows is not None else len(np.unique(pred))
    height = max(h, legend_height(rows))
    canvas = np.full((height, w + LEGEND_WIDTH, 3), 255, np.uint8)
    canvas[:h, :w] = overlay(image, pred, palette, opacity)
    canvas[:, w:] = draw_legend(pred, classes, palette, height, max_rows=legend_rows)
    return canvas
