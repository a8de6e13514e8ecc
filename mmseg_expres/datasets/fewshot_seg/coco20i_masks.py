"""Semantic masks for COCO-20i from COCO 2014's instance annotations (pycocotools).

One PNG per image: 0 background, 1..80 COCO's classes in category-id order, 255 where a
crowd region is (its pixels belong to no single instance). Instances are painted from
the largest to the smallest, so a small object on a large one stays visible.
"""
import os
import os.path as osp
from typing import List

import numpy as np
from PIL import Image

from .splits import COCO_CATEGORY_IDS

IGNORE = 255
LABELS = {cid: i + 1 for i, cid in enumerate(COCO_CATEGORY_IDS)}


def annotation_file(coco_root: str, split: str) -> str:
    """``<coco_root>/annotations/instances_<split>.json``, checked with its image folder.

    Raises:
        FileNotFoundError: ``coco_root`` is not a COCO 2014 folder.
    """
    path = osp.join(coco_root, 'annotations', f'instances_{split}.json')
    images = osp.join(coco_root, split)
    if not (osp.isfile(path) and osp.isdir(images)):
        raise FileNotFoundError(
            f'{coco_root!r} is not a COCO 2014 folder: expected {path} and the images in '
            f'{images}/ (unzip train2014.zip, val2014.zip and annotations_trainval2014.zip '
            'from cocodataset.org there).')
    return path


def convert_split(coco_root: str, split: str, out_root: str) -> List[str]:
    """Write ``<out_root>/<split>/<image stem>.png`` and the list ``<out_root>/<split>.txt``.

    Returns:
        The image stems, as listed.
    """
    from pycocotools.coco import COCO
    coco = COCO(annotation_file(coco_root, split))
    out_dir = osp.join(out_root, split)
    os.makedirs(out_dir, exist_ok=True)
    stems = []
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        label = np.zeros((info['height'], info['width']), np.uint8)
        anns = sorted(coco.loadAnns(coco.getAnnIds(imgIds=image_id)), key=lambda a: -a['area'])
        for ann in anns:
            value = IGNORE if ann.get('iscrowd') else LABELS[ann['category_id']]
            label[coco.annToMask(ann) > 0] = value
        stem = osp.splitext(info['file_name'])[0]
        Image.fromarray(label).save(osp.join(out_dir, stem + '.png'))
        stems.append(stem)
    with open(osp.join(out_root, f'{split}.txt'), 'w', encoding='utf-8') as f:
        f.write(''.join(s + '\n' for s in stems))
    return stems
