"""The segmentation data check's throughput for ``benchmark.py`` (section ``seg_check``).

Writes ``num`` image/mask pairs of ``size`` x ``size`` pixels (the demo's generated
scenes as JPEGs and their PNG label maps) into a temporary folder and times
``label_check.check_split`` on them as ``tools/check_seg_data.py`` runs it (every image
decoded) and as ``tools/train.py`` runs it before training (every image decoded too,
with the cache), first cold and then again with the cache of file sizes and mtimes.

Besides wall time it reports the CPU time of the process and its reading processes per
mask, and from it the wall time that 20,000 masks take when the processes have their
cores to themselves: on a shared machine the wall time measures the neighbours too.
"""
import os
import os.path as osp
import resource
import tempfile
import time
from typing import Dict

import numpy as np
from PIL import Image

NUM_CLASSES = 5  # the demo scenes' classes


def write_pairs(root: str, num: int, size: int) -> None:
    """``num`` pairs under ``root/{images,annotations}``: 8 distinct demo scenes (sky,
    buildings, trees, per-pixel noise; JPEG quality 95) with their label maps, cycled."""
    from mmseg_expres.datasets.demo_data.segmentation import draw_scene
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'annotations'))
    scenes = [draw_scene(rng, (size, size)) for _ in range(8)]
    for i in range(num):
        image, labels = scenes[i % 8]
        Image.fromarray(image).save(osp.join(root, 'images', f'{i:06d}.jpg'), quality=95)
        Image.fromarray(labels).save(osp.join(root, 'annotations', f'{i:06d}.png'))


def _cpu_seconds() -> float:
    """User + system time of this process and of its finished children."""
    return sum(getattr(resource.getrusage(who), f) for who in
               (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ('ru_utime', 'ru_stime'))


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
                                    ('before training, cold (tools/train.py)', True, True),
                                    ('before training, cached rerun', True, True)):
            start, cpu = time.perf_counter(), _cpu_seconds()
            report = check_split(spec, nproc=nproc, decode_images=decode, use_cache=cache,
                                 progress=False)
            seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
            assert report.pairs == num and not report.problems, report.problems[:3]
            rates[name] = dict(seconds=seconds, masks_per_s=num / seconds,
                               seconds_for_20000=20000 * seconds / num,
                               cpu_ms_per_mask=1000 * cpu / num,
                               idle_seconds_for_20000=20000 * cpu / num / nproc)
    return dict(num=num, size=size, nproc=nproc, cases=rates)


def table(result: Dict[str, object]) -> str:
    """Markdown table of :func:`run`'s result."""
    rows = [f'Segmentation data check, {result["num"]} pairs of {result["size"]}x'
            f'{result["size"]} (JPEG + PNG mask), {result["nproc"]} processes; load average '
            f'{os.getloadavg()[0]:.1f} at the end', '',
            '| case | seconds | masks/s | 20,000 masks (s) | CPU ms per mask | 20,000 masks '
            'on idle cores (s) |', '|---|---|---|---|---|---|']
    for name, r in result['cases'].items():
        rows.append(f'| {name} | {r["seconds"]:.2f} | {r["masks_per_s"]:.0f} | '
                    f'{r["seconds_for_20000"]:.0f} | {r["cpu_ms_per_mask"]:.2f} | '
                    f'{r["idle_seconds_for_20000"]:.0f} |')
    return '\n'.join(rows)
