"""Example pictures for the page, generated like the demos' data sets (no download)."""
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
from PIL import Image

from ..datasets.demo_data.fewshot_seg import draw_episode_scene
from ..datasets.demo_data.segmentation import draw_scene


def segment_examples(out_dir: str, count: int = 3,
                     size: Tuple[int, int] = (128, 160)) -> List[str]:
    """``count`` ADE20K-like scenes (tools/run_demo.sh's kind) as PNGs; their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for i in range(count):
        image, _ = draw_scene(np.random.default_rng(1000 + i), size)
        paths.append(osp.join(out_dir, f'scene{i}.png'))
        Image.fromarray(image).save(paths[-1])
    return paths


def fewshot_example(out_dir: str, cls: int = 4, num_queries: int = 2,
                    size: Tuple[int, int] = (48, 48)) -> List[object]:
    """A reference, its 0/1 mask and query images showing class ``cls``.

    Class 4 is one of fold 0's novel classes, which tools/fewshot_seg/run_demo.sh's
    checkpoint never saw in training; 48 px like that demo's scenes.
    Returns ``[reference, mask, [queries]]`` paths.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for i in range(1 + num_queries):
        image, _, masks = draw_episode_scene(np.random.default_rng(2000 + i), [cls], size)
        paths.append(osp.join(out_dir, f'object{i}.png'))
        Image.fromarray(image).save(paths[-1])
        if i == 0:
            mask_path = osp.join(out_dir, 'object0_mask.png')
            Image.fromarray(masks[0].astype(np.uint8)).save(mask_path)
    return [paths[0], mask_path, paths[1:]]
