"""Small generated data sets in the few-shot benchmark's layout, for the demo and tests.

Each class has its own mean colour, close to the others', and every image is shifted
and noised at random around it: a linear head on the features of even a random ViT can
learn the classes, but not perfectly from one or two images. No two files have the same
bytes (the checkers look for training images copied into the test split).
"""
import os
import os.path as osp
import zlib
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from ..fgvc_fewshot.benchmark import SPLIT_FILES, get_dataset, list_file
from ..lists.files import write_list_file


def _image(label: int, index: int, size: int, salt: int) -> np.ndarray:
    rng = np.random.default_rng([salt, index])
    mean = np.array([100 + 30 * (label % 4), 160 - 25 * (label // 4 % 4), 128], float)
    pixels = mean + rng.uniform(-25, 25, 3) + rng.normal(0, 30, (size, size, 3))
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    pixels[0, 0] = (index % 256, index // 256 % 256, label % 256)  # unique bytes per file
    return pixels


def make_fewshot_dataset(root: str, name: str, per_class: Dict[str, int],
                         custom_num_classes: Optional[int] = None,
                         image_size: int = 8) -> Dict[str, List[Tuple[str, int]]]:
    """Write ``<root>/<name>`` in the benchmark's layout, without any K-shot list.

    Images go to the data set's image folder (``images/`` or, for Stanford Cars, the data
    set's folder itself) as ``<split>/<label>_<index>.png``; the lists are written to
    ``annotations/`` under NOAH's file names. Draw K-shot lists from ``train`` with
    :func:`~..fgvc_fewshot.sampling.draw_shots` (or tools/fewshot/make_fewshot_lists.py).

    Args:
        root: the few-shot root.
        name: a benchmark data set, or one of your own with ``custom_num_classes``.
        per_class: images per class of ``train``, ``val`` and ``test`` (a split that is
            missing or 0 is not written).
        custom_num_classes: class count of a data set outside the benchmark.
        image_size: side of the square PNGs.

    Returns:
        The ``(relative path, label)`` rows written, per split.
    """
    info = get_dataset(name, custom_num_classes)
    image_root = osp.join(root, name, info.image_dir)
    written = {}
    index = 0
    salt = zlib.crc32(name.encode())  # data sets of other names get other images
    for split in SPLIT_FILES:
        if not per_class.get(split):
            continue
        os.makedirs(osp.join(image_root, split), exist_ok=True)
        rows = []
        for label in range(info.num_classes):
            for i in range(per_class[split]):
                rel = f'{split}/{label:03d}_{i:03d}.png'
                Image.fromarray(_image(label, index, image_size, salt)).save(
                    osp.join(image_root, rel), compress_level=1)
                rows.append((rel, label))
                index += 1
        write_list_file(list_file(root, name, split), rows)
        written[split] = rows
    return written
