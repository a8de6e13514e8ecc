"""Small generated few-shot segmentation sets in the real PASCAL VOC and COCO 2014 layouts.

Each scene shows one or two objects on a noisy background; every class has its own
colour and shape (disc or box), so a class can be told from its supports. Images cycle
through the classes, so each class appears in ``count // num_classes`` images or more.
"""
import json
import os
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image

from ..fewshot_seg.splits import COCO_CATEGORY_IDS, COCO_CLASSES, VOC_CLASSES

IGNORE = 255


def class_colour(cls: int) -> np.ndarray:
    """A fixed, distinct RGB colour per class id."""
    return np.array([(cls * 67) % 256, (cls * 151 + 80) % 256, (cls * 29 + 160) % 256],
                    np.float32)


def object_mask(rng: np.random.Generator, cls: int, size: Tuple[int, int]) -> np.ndarray:
    """(H, W) bool: a disc (odd classes) or a box (even classes) at a random place."""
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    r = rng.uniform(0.18, 0.3) * min(h, w)
    if cls % 2:
        return (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
    return (abs(yy - cy) < r) & (abs(xx - cx) < 0.8 * r)


def draw_episode_scene(rng: np.random.Generator, classes: Sequence[int], size: Tuple[int, int],
                       ) -> Tuple[np.ndarray, np.ndarray, List[np.ndarray]]:
    """An RGB image, its label map (class ids, 0 background) and each object's mask."""
    label = np.zeros(size, np.uint8)
    masks = []
    for cls in classes:
        mask = object_mask(rng, cls, size) & (label == 0)  # the first object stays whole
        label[mask] = cls
        masks.append(mask)
    palette = np.stack([rng.uniform(60, 200, 3)] + [class_colour(c) for c in range(1, 256)])
    image = palette[label] + rng.normal(0, 12, (*size, 3))
    return np.clip(image, 0, 255).astype(np.uint8), label, masks


def scene_classes(rng: np.random.Generator, i: int, num_classes: int) -> List[int]:
    """Image ``i`` shows class ``i % C + 1`` and, half the time, one other class."""
    classes = [i % num_classes + 1]
    if rng.random() < 0.5:
        classes.append(int(rng.choice([c for c in range(1, num_classes + 1)
                                       if c != classes[0]])))
    return classes


def _save(array: np.ndarray, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, quality=95)


def _write_list(path: str, names: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(n + '\n' for n in names))


def make_pascal(root: str, num_train: int = 40, num_val: int = 40,
                size: Tuple[int, int] = (32, 32), seed: int = 0) -> str:
    """Write ``root/VOCdevkit/VOC2012`` as mmseg's ``voc_aug.py`` leaves it.

    ``JPEGImages``, ``SegmentationClassAug`` (0 background, 1..20, a 255 ring around the
    first object as in VOC's masks) and ``ImageSets/Segmentation/{train,val,aug,trainaug}.txt``.

    Returns:
        The data root (``.../VOCdevkit/VOC2012``).
    """
    data_root = osp.join(root, 'VOCdevkit', 'VOC2012')
    rng = np.random.default_rng(seed)
    lists = {}
    for split, year, count in (('train', 2007, num_train), ('val', 2011, num_val)):
        lists[split] = [f'{year}_{i:06d}' for i in range(count)]
        for i, name in enumerate(lists[split]):
            image, label, masks = draw_episode_scene(
                rng, scene_classes(rng, i, len(VOC_CLASSES)), size)
            grown = np.zeros_like(masks[0])
            grown[1:-1, 1:-1] = masks[0][:-2, 1:-1] | masks[0][2:, 1:-1]
            label[grown & ~masks[0] & (label == 0)] = IGNORE
            _save(image, osp.join(data_root, 'JPEGImages', name + '.jpg'))
            _save(label, osp.join(data_root, 'SegmentationClassAug', name + '.png'))
    half = num_train // 2  # voc_aug.py: trainaug = train + aug (SBD's, minus val)
    sets = osp.join(data_root, 'ImageSets', 'Segmentation')
    _write_list(osp.join(sets, 'train.txt'), lists['train'][:half])
    _write_list(osp.join(sets, 'aug.txt'), lists['train'][half:])
    _write_list(osp.join(sets, 'trainaug.txt'), lists['train'])
    _write_list(osp.join(sets, 'val.txt'), lists['val'])
    return data_root


def _polygon(mask: np.ndarray) -> List[float]:
    """A box polygon around a mask (COCO's [x1, y1, x2, y2, ...])."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def make_coco(root: str, num_train: int = 160, num_val: int = 160,
              size: Tuple[int, int] = (32, 32), seed: int = 0) -> str:
    """Write ``root/coco/{train2014,val2014}`` and ``annotations/instances_*2014.json``.

    Instances are box polygons around each object (COCO's polygon format) with COCO's
    category ids; every fifth image also has a crowd region (RLE) in a corner.

    Returns:
        The COCO root (``.../coco``).
    """
    from pycocotools import mask as mask_utils
    coco_root = osp.join(root, 'coco')
    rng = np.random.default_rng(seed)
    categories = [dict(id=cid, name=name) for cid, name in zip(COCO_CATEGORY_IDS, COCO_CLASSES)]
    for split, count in (('train2014', num_train), ('val2014', num_val)):
        images, annotations = [], []
        for i in range(count):
            image_id = i + 1
            file_name = f'COCO_{split}_{image_id:012d}.jpg'
            classes = scene_classes(rng, i, len(COCO_CLASSES))
            image, _, masks = draw_episode_scene(rng, classes, size)
            _save(image, osp.join(coco_root, split, file_name))
            images.append(dict(id=image_id, file_name=file_name, height=size[0], width=size[1]))
            for cls, mask in zip(classes, masks):
                if not mask.any():  # hidden behind the first object
                    continue
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id, iscrowd=0,
                    category_id=COCO_CATEGORY_IDS[cls - 1], segmentation=[_polygon(mask)],
                    area=float(mask.sum()), bbox=[0, 0, 1, 1]))
            if i % 5 == 0:
                crowd = np.zeros(size, np.uint8, order='F')
                crowd[:3, :3] = 1
                rle = mask_utils.encode(np.asfortranarray(crowd))
                rle['counts'] = rle['counts'].decode()
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id, iscrowd=1,
                    category_id=COCO_CATEGORY_IDS[0], segmentation=rle, area=9.0,
                    bbox=[0, 0, 3, 3]))
        path = osp.join(coco_root, 'annotations', f'instances_{split}.json')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return coco_root
