"""Small generated segmentation data sets in the ADE20K, Cityscapes and custom layouts.

The demo and the tests use them where no data set can be downloaded. Scenes are a sky
band, a floor, buildings (rectangles) and trees (discs) on a wall, with colour jitter and
noise, so a frozen ViT plus a head can learn them in minutes on a CPU.
"""
import os
import os.path as osp
from typing import Dict, Tuple

import numpy as np
from PIL import Image

# ADE20K ids (1-based in the PNGs, 0 = "other"): wall, building, sky, floor, tree.
ADE_IDS = {'wall': 1, 'building': 2, 'sky': 3, 'floor': 4, 'tree': 5}
# Cityscapes train ids: building, wall, vegetation, sky, road.
CITYSCAPES_IDS = {'building': 2, 'wall': 3, 'tree': 8, 'sky': 10, 'floor': 0}
COLOURS = {'wall': (200, 190, 160), 'building': (120, 120, 130), 'sky': (90, 150, 230),
           'floor': (140, 90, 50), 'tree': (40, 140, 40)}


def draw_scene(rng: np.random.Generator, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """One RGB image (H, W, 3) uint8 and its map of class names' indices (H, W).

    The map holds indices into ``list(COLOURS)``.
    """
    h, w = size
    names = list(COLOURS)
    labels = np.full((h, w), names.index('wall'), np.uint8)
    sky_end = int(h * rng.uniform(0.15, 0.35))
    floor_start = int(h * rng.uniform(0.7, 0.85))
    labels[:sky_end] = names.index('sky')
    labels[floor_start:] = names.index('floor')
    yy, xx = np.mgrid[:h, :w]
    for _ in range(rng.integers(1, 3)):
        x0, x1 = sorted(rng.integers(0, w, 2))
        top = int(rng.uniform(0.1, 0.5) * h)
        labels[top:floor_start, x0:max(x1, x0 + w // 8)] = names.index('building')
    for _ in range(rng.integers(1, 3)):
        cy, cx, r = rng.uniform(0.3, 0.8) * h, rng.uniform(0, w), rng.uniform(0.08, 0.2) * h
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2] = names.index('tree')
    palette = np.array([COLOURS[n] for n in names], np.float32)
    palette += rng.normal(0, 12, palette.shape)  # per-image colour jitter
    image = palette[labels] + rng.normal(0, 10, (h, w, 3))
    return np.clip(image, 0, 255).astype(np.uint8), labels


def _write(image: np.ndarray, label: np.ndarray, img_path: str, seg_path: str) -> None:
    os.makedirs(osp.dirname(img_path), exist_ok=True)
    os.makedirs(osp.dirname(seg_path), exist_ok=True)
    Image.fromarray(image).save(img_path, quality=95)
    Image.fromarray(label).save(seg_path)


def make_ade20k(root: str, num_train: int = 40, num_val: int = 10,
                size: Tuple[int, int] = (128, 160), seed: int = 0) -> str:
    """Write ``root/ADEChallengeData2016/{images,annotations}/{training,validation}``.

    Returns:
        The data root to put in a config (``.../ADEChallengeData2016``).
    """
    data_root = osp.join(root, 'ADEChallengeData2016')
    lut = np.array([ADE_IDS[n] for n in COLOURS], np.uint8)
    rng = np.random.default_rng(seed)
    for split, count in (('training', num_train), ('validation', num_val)):
        for i in range(count):
            image, label = draw_scene(rng, size)
            name = f'ADE_{split[:5]}_{i:08d}'
            _write(image, lut[label], osp.join(data_root, 'images', split, name + '.jpg'),
                   osp.join(data_root, 'annotations', split, name + '.png'))
    return data_root


def make_cityscapes(root: str, num_train: int = 6, num_val: int = 3,
                    size: Tuple[int, int] = (128, 256), seed: int = 0) -> str:
    """Write ``root/cityscapes/{leftImg8bit,gtFine}/{train,val}/<city>/...`` (train ids).

    Returns:
        The data root to put in a config (``.../cityscapes``).
    """
    data_root = osp.join(root, 'cityscapes')
    lut = np.array([CITYSCAPES_IDS[n] for n in COLOURS], np.uint8)
    rng = np.random.default_rng(seed)
    cities: Dict[str, str] = {'train': 'aachen', 'val': 'frankfurt'}
    for split, count in (('train', num_train), ('val', num_val)):
        city = cities[split]
        for i in range(count):
            image, label = draw_scene(rng, size)
            stem = f'{city}_{i:06d}_000019'
            _write(image, lut[label],
                   osp.join(data_root, 'leftImg8bit', split, city, stem + '_leftImg8bit.png'),
                   osp.join(data_root, 'gtFine', split, city,
                            stem + '_gtFine_labelTrainIds.png'))
    return data_root


#: A user's own data set in the custom-data template's layout: four named classes, the
#: floor left unlabelled (255, ignored).
CUSTOM_IDS = {'wall': 0, 'building': 1, 'sky': 2, 'tree': 3, 'floor': 255}
CUSTOM_CLASSES = ('wall', 'building', 'sky', 'tree')


def make_custom(root: str, num_train: int = 8, num_val: int = 4,
                size: Tuple[int, int] = (64, 80), seed: int = 0) -> str:
    """Write ``root/{images,annotations}/{training,validation}`` and ``root/classes.txt``.

    Returns:
        ``root``, the ``data_root`` of the custom-data configs.
    """
    lut = np.array([CUSTOM_IDS[n] for n in COLOURS], np.uint8)
    rng = np.random.default_rng(seed)
    for split, count in (('training', num_train), ('validation', num_val)):
        for i in range(count):
            image, label = draw_scene(rng, size)
            _write(image, lut[label], osp.join(root, 'images', split, f'{split}_{i:04d}.jpg'),
                   osp.join(root, 'annotations', split, f'{split}_{i:04d}.png'))
    with open(osp.join(root, 'classes.txt'), 'w') as f:
        f.write('\n'.join(CUSTOM_CLASSES) + '\n')
    return root
