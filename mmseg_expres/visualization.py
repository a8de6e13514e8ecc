"""How predictions are drawn for people: label maps and binary masks over the image.

One place for it, so that the web page (tools/web_demo.py), the few-shot segmentation
tool (tools/fewshot_seg/segment.py) and their tests draw the same pixels.
"""
from typing import List, NamedTuple, Sequence

import numpy as np

#: The colour a found object is tinted with, RGB (the few-shot tools and page).
OBJECT_RGB = (255, 0, 0)


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


def overlay_label_map(image: np.ndarray, label: np.ndarray, palette: np.ndarray,
                      alpha: float = 0.5) -> np.ndarray:
    """The RGB image blended with each pixel's class colour.

    Args:
        image: (H, W, 3) uint8 RGB.
        label: (H, W) class indices into ``palette``.
        palette: (C, 3) RGB colours.
        alpha: the class colours' weight.
    """
    colours = np.asarray(palette, np.float32)[label]
    return ((1 - alpha) * image.astype(np.float32) + alpha * colours).astype(np.uint8)


def class_palette(num_classes: int, palette: Sequence = ()) -> np.ndarray:
    """(num_classes, 3) uint8 RGB: ``palette`` (a dataset's), extended when it is short.

    Colours past the given ones come from a fixed generator, so a model whose checkpoint
    names fewer colours than classes is still drawn, and drawn the same way every time.
    """
    given = np.asarray(palette, np.uint8).reshape(-1, 3)[:num_classes]
    rng = np.random.default_rng(0)
    extra = rng.integers(0, 256, (num_classes - len(given), 3), dtype=np.uint8)
    return np.concatenate([given, extra])


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
