"""The segmentation data check's throughput for ``benchmark.py`` (section ``seg_check``).

Writes ``num`` image/mask pairs of ``size`` x ``size`` pixels (JPEG images, PNG masks of
piecewise-constant regions over 20 classes, like real label maps) into a temporary
folder and times ``label_check.check_split`` on them as ``tools/check_seg_data.py`` runs
it (every image decoded) and as ``tools/train.py`` runs it before training (image
headers only), first cold and then again with the cache of file sizes and mtimes.
"""
import os
import os.path as osp
import tempfile
import time
from typing import Dict

import numpy as np
from PIL import Image

NUM_CLASSES = 20


def write_pairs(root: str, num: int, size: int) -> None:
    """``num`` pairs under ``root/{images,annotations}``; 8 distinct images, cycled."""
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'annotations'))
    images = [rng.integers(0, 255, (size, size, 3), np.uint8) for _ in range(8)]
    for i in range(num):
        grid = rng.integers(0, NUM_CLASSES, (size // 32, size // 32), np.uint8)
        mask = np.kron(grid, np.ones((32, 32), np.uint8))
        Image.fromarray(images[i % 8]).save(osp.join(root, 'images', f'{i:06d}.jpg'),
                                            quality=90)
        Image.fromarray(mask).save(osp.join(root, 'annotations', f'{i:06d}.png'))


def run(num: int, size: int, nproc: int) -> Dict[str, object]:
    """Masks per second of the full check, the pre-training check and its cached rerun."""
    from mmseg_expres.datasets.segmentation.label_check import SplitSpec, check_split
    with tempfile.TemporaryDirectory() as tmp:
        write_pairs(tmp, num, size)
        spec = SplitSpec('train', osp.join(tmp, 'images'), osp.join(tmp, 'annotations'),
                         NUM_CLASSES)
        os.environ['MMSEG_EXPRES_CACHE'] = osp.join(tmp, 'cache')
        rates = {}
        for name, decode, cache in (('full check (tools/check_seg_data.py)', True, False),
                                    ('before training, cold (tools/train.py)', False, True),
                                    ('before training, cached rerun', False, True)):
            start = time.perf_counter()
            report = check_split(spec, nproc=nproc, decode_images=decode, use_cache=cache,
                                 progress=False)
            seconds = time.perf_counter() - start
            assert report.pairs == num and not report.problems, report.problems[:3]
            rates[name] = dict(seconds=seconds, masks_per_s=num / seconds,
                               seconds_for_20000=20000 * seconds / num)
    return dict(num=num, size=size, nproc=nproc, cases=rates)


def table(result: Dict[str, object]) -> str:
    """Markdown table of :func:`run`'s result."""
    rows = [f'Segmentation data check, {result["num"]} pairs of {result["size"]}x'
            f'{result["size"]} (JPEG + PNG mask), {result["nproc"]} processes', '',
            '| case | seconds | masks/s | 20,000 masks (s) |', '|---|---|---|---|']
    for name, r in result['cases'].items():
        rows.append(f'| {name} | {r["seconds"]:.2f} | {r["masks_per_s"]:.0f} | '
                    f'{r["seconds_for_20000"]:.0f} |')
    return '\n'.join(rows)
