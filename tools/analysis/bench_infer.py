"""Inference-command cases for ``benchmark.py``: ``tools/infer.py``'s code path against a
bare ``mmseg.apis.inference_model`` loop, on the README demo's model.

Every case segments the same ``num_images`` generated image files (scenes of the demo
data set, 128x160) with the demo config's model (EXPRES + UperNet on the small demo ViT,
random weights: timing only):

* the bare loop: ``inference_model(model, path)`` per file, nothing written;
* the tool's path: :func:`mmseg_expres.apis.segment_files.segment_files`, which
  ``tools/infer.py`` calls (decode, predict, write the palette PNG and the overlay with
  its legend), at batch 1 and 4;
* the tool's prediction alone (decode + :class:`Segmenter`, nothing written), to show
  what the files cost.

The tool's overhead is its batch-1 time over the bare loop's; the target is < 10 %.
"""
import atexit
import os
import os.path as osp
import shutil
import tempfile
from typing import List, Tuple

import numpy as np
import torch

from bench_cases import TINY_VIT
from bench_utils import Case

CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs', 'demo',
                  'expres_vit-demo_ade20k.py')
BARE = 'bare inference_model loop'
TOOL = 'tools/infer.py path, batch 1'
OVERHEAD_LIMIT = 0.10


def _model(device: torch.device, quick: bool) -> torch.nn.Module:
    """The demo model with random weights (``quick``: shrunk to the test suite's ViT)."""
    from mmengine.config import Config
    from mmseg.datasets import ADE20KDataset

    from mmseg_expres.apis import init_model
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.pretrained = None
    if quick:
        width = TINY_VIT['vit_cfg']['embed_dim']
        cfg.model.backbone.update(arch=TINY_VIT['arch'], vit_cfg=TINY_VIT['vit_cfg'],
                                  out_indices=(0, 1, 2, 3))
        cfg.model.neck.update(in_channels=[width] * 4, out_channels=width)
        cfg.model.decode_head.update(in_channels=[width] * 4, channels=16)
        cfg.model.auxiliary_head.update(in_channels=width, channels=8)
    torch.manual_seed(0)
    model = init_model(cfg, None, str(device))
    model.dataset_meta = dict(classes=ADE20KDataset.METAINFO['classes'],
                              palette=ADE20KDataset.METAINFO['palette'])
    return model


def infer_tool_cases(quick: bool, device: torch.device,
                     num_images: int = 4) -> Tuple[List[Case], int]:
    """The cases, and the images each step segments (for images/s)."""
    from mmseg.apis import inference_model
    from PIL import Image

    from mmseg_expres.apis.media import expand_inputs, read_image
    from mmseg_expres.datasets.demo_data.segmentation import draw_scene
    from mmseg_expres.apis.segment_files import Segmenter, segment_files
    num_images, size = (2, (32, 40)) if quick else (num_images, (128, 160))
    folder = tempfile.mkdtemp(prefix='bench_infer_')
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.makedirs(osp.join(folder, 'in'))
    rng = np.random.default_rng(0)
    paths = [osp.join(folder, 'in', f'{i:03d}.jpg') for i in range(num_images)]
    for path in paths:  # the demo data set's scenes: shapes and texture, like photos
        Image.fromarray(draw_scene(rng, size)[0]).save(path)
    sources, _ = expand_inputs(paths)
    # two models: inference_model edits its model's config (the first transform's type)
    bare_model, tool_model = _model(device, quick), _model(device, quick)
    segmenter = Segmenter(tool_model)
    out = osp.join(folder, 'out')

    def bare() -> None:
        for path in paths:
            inference_model(bare_model, path)

    def tool(batch: int):
        return lambda: segment_files(segmenter, sources, out, batch, show_progress=False)

    def predict_only() -> None:
        for path in paths:
            segmenter([read_image(path)])

    cases = [Case(BARE, bare), Case(TOOL, tool(1)), Case('tools/infer.py path, batch 4', tool(4)),
             Case('tools/infer.py prediction only (no files), batch 1', predict_only)]
    return cases, num_images


def overhead_line(cases: List[Case]) -> str:
    """The tool's overhead over the bare loop, against the 10 % target."""
    by_name = {case.name: case for case in cases}
    overhead = by_name[TOOL].median / by_name[BARE].median - 1
    verdict = 'within' if overhead < OVERHEAD_LIMIT else 'OVER'
    return (f'\ntools/infer.py overhead at batch 1: {100 * overhead:+.1f} % of the bare loop '
            f'({verdict} the {100 * OVERHEAD_LIMIT:.0f} % target)')
