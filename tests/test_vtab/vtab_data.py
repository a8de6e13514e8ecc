"""Generate small VTAB-1k-layout folders (tiny PNGs and the four list files)."""
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np
from PIL import Image

from mmseg_expres.datasets.vtab.benchmark import SPLITS, expected_size, get_task


def make_vtab_task(root: str, task: str, sizes: Optional[Dict[str, int]] = None,
                   image_size: int = 8) -> str:
    """Write ``<root>/<task>`` in the VTAB-1k layout and return its folder.

    Args:
        root: the VTAB-1k root.
        task: a VTAB-1k task name (sets the label range).
        sizes: ``train800``, ``val200`` and ``test`` sizes; the release's sizes if None.
            ``train800val200`` is always train800 followed by val200, as in the release.
        image_size: side of the square PNGs; every image has distinct pixels.
    """
    sizes = sizes or {s: expected_size(task, s) for s in ('train800', 'val200', 'test')}
    num_classes = get_task(task).num_classes
    folder = osp.join(root, task)
    lines = {}
    index = 0
    for split in ('train800', 'val200', 'test'):
        os.makedirs(osp.join(folder, 'images', split), exist_ok=True)
        lines[split] = []
        for i in range(sizes[split]):
            # Encode the running index in the pixels so no two files have equal bytes.
            pixels = np.zeros((image_size, image_size, 3), np.uint8)
            pixels[0, 0], pixels[0, 1], pixels[0, 2] = index % 256, index // 256 % 256, 7
            pixels[1:] = (index * 37) % 251
            rel = f'images/{split}/{i:05d}.png'
            Image.fromarray(pixels).save(osp.join(folder, rel), compress_level=1)
            lines[split].append(f'{rel} {index % num_classes}')
            index += 1
    lines['train800val200'] = lines['train800'] + lines['val200']
    for split in SPLITS:
        with open(osp.join(folder, f'{split}.txt'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines[split]) + '\n')
    return folder
