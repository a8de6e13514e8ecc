"""A segmentation target for the transfer study, made here without any download.

``seg-digits``: scenes of the held-out digits (scikit-learn's real handwritten 5-9; the
ViT is pretrained on scenes of 0-4, :func:`source_scenes`), two per scene, pasted at
random positions (apart where they fit) onto generated textured backgrounds, with
per-pixel masks of their regions (0 background, 1..5 the digits 5..9). The digits of
each split come from their own pool of digit images, so no test digit was seen in
training. Written as a custom data set in the layout of
``configs/_base_/datasets/expres_custom.py`` (docs/custom_data.md):

    <root>/classes.txt
    <root>/images/<split>/<name>.png        RGB scenes
    <root>/annotations/<split>/<name>.png   class-id masks

with the splits ``training``, ``validation`` (the lr grid), ``trainval`` (both, the final
runs) and ``test``.
"""
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageFilter

import transfer_pairs

SOURCE_CLASSES = [0, 1, 2, 3, 4]  # pretraining's, as the classification pair ``digits``
TARGET_CLASSES = [5, 6, 7, 8, 9]
CLASSES = ['background'] + [f'digit {c}' for c in TARGET_CLASSES]
#: Scenes per split (training, validation, test) and the share of the digit images each
#: split's pool draws from.
SCENES = (300, 100, 200)
POOLS = (0.5, 0.15, 0.35)
DIGITS_PER_SCENE = 2
#: The brightest background value (of 255); the digits are pasted in 170..255.
BACKGROUND = 150
#: Strokes are pixels where the pasted digit's intensity is above this (of 255); a
#: digit's mask is its strokes widened by a REGION x REGION maximum filter, the region
#: of the digit rather than its 3-px strokes, which a head on 8-px patches cannot draw.
STROKE = 100
REGION = 7


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float texture in [0, BACKGROUND]: smooth colour noise, fine grain and a
    random stripe pattern, so that the background is more than a flat colour."""
    coarse = rng.uniform(0, 1, size=(4, 4, 3)).astype(np.float32)
    smooth = np.stack([np.asarray(Image.fromarray(coarse[..., c]).resize(
        (size, size), Image.BICUBIC)) for c in range(3)], axis=-1)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 16)
    stripes = 0.5 + 0.5 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi
                                 / period)
    grain = rng.uniform(0, 1, size=(size, size, 1))
    texture = 0.55 * smooth + 0.25 * stripes[..., None] * rng.uniform(0, 1, 3) + 0.2 * grain
    return np.clip(texture, 0, 1) * BACKGROUND


def _overlap(a: Tuple[int, int, int], b: Tuple[int, int, int]) -> bool:
    """Whether two squares (top, left, side) overlap."""
    return (a[0] < b[0] + b[2] and b[0] < a[0] + a[2]
            and a[1] < b[1] + b[2] and b[1] < a[1] + a[2])


def _scene(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
           size: int, digit_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """One image (uint8 RGB) and mask (uint8 class ids): digits pasted, later on top."""
    image = _background(rng, size)
    mask = np.zeros((size, size), np.uint8)
    boxes: List[Tuple[int, int, int]] = []
    for digit, label in zip(digits, labels):
        side = int(rng.integers(digit_size * 3 // 4, digit_size + 1))
        alpha = np.asarray(Image.fromarray(digit[..., 0]).resize(
            (side, side), Image.BICUBIC)).astype(np.float32) / 255
        for _ in range(50):  # a place clear of the digits already pasted, if there is one
            y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
            if not any(_overlap((y, x, side), box) for box in boxes):
                break
        boxes.append((y, x, side))
        colour = rng.uniform(170, 255, size=3)
        patch = image[y:y + side, x:x + side]
        patch[:] = patch * (1 - alpha[..., None]) + colour * alpha[..., None]
        strokes = Image.fromarray(((alpha * 255 > STROKE) * 255).astype(np.uint8))
        region = np.asarray(strokes.filter(ImageFilter.MaxFilter(REGION))) > 0
        mask[y:y + side, x:x + side][region] = label + 1
    return image.astype(np.uint8), mask


def digit_scenes(image_size: int, digit_size: int, seed: int = 0
                 ) -> Dict[str, List[Tuple[np.ndarray, np.ndarray]]]:
    """The scenes of each split: ``{split: [(image, mask), ...]}``.

    Args:
        image_size: the side of a scene.
        digit_size: the side the digits were pretrained at (they are pasted at 3/4 to
            1x of it).
    """
    _, target = transfer_pairs.digits_pair(digit_size, SOURCE_CLASSES)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(target.labels))
    bounds = np.cumsum([0] + [int(round(p * len(order))) for p in POOLS])
    bounds[-1] = len(order)
    scenes = {}
    for i, (split, count) in enumerate(zip(('training', 'validation', 'test'), SCENES)):
        pool = order[bounds[i]:bounds[i + 1]]
        scenes[split] = []
        for _ in range(count):
            pick = rng.choice(pool, size=DIGITS_PER_SCENE, replace=False)
            scenes[split].append(_scene(target.images[pick], target.labels[pick], rng,
                                        image_size, digit_size))
    scenes['trainval'] = scenes['training'] + scenes['validation']
    return scenes


def source_scenes(image_size: int, digit_size: int, seed: int = 1
                  ) -> Tuple[transfer_pairs.Split, np.ndarray]:
    """The pretraining images: each source digit (0-4) once, alone in a scene of the
    target's kind, labelled with its class; and their masks (0 background, 1..5)."""
    source, _ = transfer_pairs.digits_pair(digit_size, SOURCE_CLASSES)
    rng = np.random.default_rng(seed)
    scenes = [_scene(source.images[i:i + 1], source.labels[i:i + 1], rng, image_size,
                     digit_size) for i in range(len(source.labels))]
    return (transfer_pairs.Split(np.stack([s[0] for s in scenes]), source.labels),
            np.stack([s[1] for s in scenes]))


def write_custom_dataset(scenes: Dict[str, List[Tuple[np.ndarray, np.ndarray]]],
                         root: str) -> str:
    """Write ``scenes`` under ``root`` in the custom-data layout; return ``root``.

    Written once: a root whose ``classes.txt`` exists (written last) is kept.
    """
    marker = osp.join(root, 'classes.txt')
    if osp.isfile(marker):
        return root
    for split, items in scenes.items():
        for kind in ('images', 'annotations'):
            os.makedirs(osp.join(root, kind, split), exist_ok=True)
        for i, (image, mask) in enumerate(items):
            name = f'{split}_{i:04d}.png'
            Image.fromarray(image).save(osp.join(root, 'images', split, name),
                                        compress_level=1)
            Image.fromarray(mask).save(osp.join(root, 'annotations', split, name),
                                       compress_level=1)
    with open(marker, 'w', encoding='utf-8') as f:
        f.write('\n'.join(CLASSES) + '\n')
    return root
