"""Few-shot segmentation cases for ``benchmark.py``: episodes of the shipped configs.

For each method (EXPRES, the frozen ViT without prompts, VPT-deep, fine-tuning), built
from its PASCAL-5i config with the prototype-matching head: a test episode of each
``shot`` (no grad, one episode, as ``tools/test.py`` runs them) and a meta-training step
(forward, backward, AdamW over ``batch`` episodes of the config's ``train_shot``), on
random images and masks. The ViT's weights are random (timing only).

And what encoding the supports once saves a user (``support_encoding_cases``): Q query
images of one class with K supports, uint8 images in, masks out, through
``mmseg_expres.apis.fewshot_seg``: each query as a whole episode (the supports through
the ViT with every query, Q x (1 + K) images) against the supports encoded once for all
the queries (Q + K images; ``segment_queries``).
"""
import copy
import os.path as osp
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from bench_cases import TINY_VIT, _build_segmentor, _train_step_case, _trainable, no_grad
from bench_utils import Case

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs')
#: method -> its PASCAL-5i config (configs/README.md); the first is the table's subject,
#: the second its reference (the frozen floor).
METHODS = {
    'EXPRES': 'fewshot/expres_vit-b16_proto_1xb8-20k_pascal5i-480x480.py',
    'frozen ViT (head only)': 'baselines/linear-probe_vit-b16_proto_1xb8-20k_pascal5i-480x480.py',
    'VPT-deep': 'baselines/vpt-deep_vit-b16_proto_1xb8-20k_pascal5i-480x480.py',
    'fine-tuning': 'baselines/finetune_vit-b16_proto_1xb8-20k_pascal5i-480x480.py',
}
FROZEN = 'frozen ViT (head only)'


def model_cfg(config: str, quick: bool, img_size: int) -> Tuple[dict, int]:
    """The config's model (random ViT weights; ``quick``: the tiny test ViT), and its
    ``train_shot``."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    model = cfg.model.to_dict()
    backbone = model['backbone']
    backbone.update(pretrained=None, img_size=img_size)
    if quick:
        backbone.update(copy.deepcopy(TINY_VIT), out_indices=(1, 3), img_size=img_size)
        backbone['num_tokens'] = min(backbone['num_tokens'], 4)
        model['decode_head'].update(in_channels=TINY_VIT['vit_cfg']['embed_dim'],
                                    num_levels=2, channels=8)
    return model, cfg.train_shot


def random_episodes(batch: int, shot: int, size: int,
                    device: torch.device) -> Tuple[Tensor, list]:
    """(B, 1 + K, 3, H, W) images and data samples with random binary masks."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    generator = torch.Generator().manual_seed(shot)
    inputs = torch.randn(batch, 1 + shot, 3, size, size, generator=generator).to(device)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        sample.support_masks = PixelData(
            data=torch.randint(0, 2, (shot, size, size), generator=generator).to(device))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (1, size, size), generator=generator).to(device))
        samples.append(sample)
    return inputs, samples


def fewshot_seg_cases(quick: bool, img_size: int, batch: int, shots: Sequence[int],
                      device: torch.device) -> Dict[str, List[Case]]:
    """kind ('test K-shot', 'meta-training step') -> one case per method."""
    kinds: Dict[str, List[Case]] = {}
    for method, config in METHODS.items():
        cfg, train_shot = model_cfg(config, quick, img_size)
        torch.manual_seed(0)
        model = _build_segmentor(cfg).to(device)
        trainable = _trainable(model.backbone)
        for shot in shots:
            inputs, samples = random_episodes(1, shot, img_size, device)
            predict: Callable[[], object] = (
                lambda m=model, i=inputs, s=samples: m.eval().predict(i, s))
            kinds.setdefault(f'test {shot}-shot', []).append(
                Case(method, no_grad(predict), trainable=trainable))
        inputs, samples = random_episodes(batch, train_shot, img_size, device)

        def loss(m: nn.Module = model, i: Tensor = inputs, s: list = samples) -> Tensor:
            m.train()  # the test cases of the same model put it in eval mode
            return sum(value for key, value in m.loss(i, s).items() if 'loss' in key)

        kinds.setdefault(f'meta-training step ({batch} x {train_shot}-shot)', []).append(
            _train_step_case(method, model, loss, trainable))
    return kinds


#: The support-encoding cases: the reference (the per-query re-encoding), then its fix.
REENCODED, ENCODED_ONCE = 'supports re-encoded per query', 'supports encoded once'


def support_encoding_cases(quick: bool, img_size: int, queries: int, shots: Sequence[int],
                           device: torch.device) -> Dict[str, List[Case]]:
    """kind ('K-shot, Q queries') -> [re-encoded, encoded once] of the EXPRES model.

    Both give the same masks (``tests/test_fewshot_seg/test_model.py``); the supports are
    given resized (``Supports``), so mask reading is not timed.
    """
    from mmseg_expres.apis.fewshot_seg import (Supports, segment_as_episodes,
                                               segment_queries)
    cfg, _ = model_cfg(METHODS['EXPRES'], quick, img_size)
    torch.manual_seed(0)
    model = _build_segmentor(cfg).to(device).eval()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (img_size, img_size, 3), dtype=np.uint8)
              for _ in range(queries)]
    kinds: Dict[str, List[Case]] = {}
    for shot in shots:
        supports = Supports(
            torch.from_numpy(rng.integers(0, 256, (shot, 3, img_size, img_size),
                                          dtype=np.uint8)),
            torch.from_numpy(rng.integers(0, 2, (shot, img_size, img_size), dtype=np.uint8)))
        kinds[f'{shot}-shot, {queries} queries'] = [
            Case(REENCODED, lambda s=supports: segment_as_episodes(model, images, s)),
            # the supports encoded in every call: once per Q queries, as a click or a run
            Case(ENCODED_ONCE, lambda s=supports: segment_queries(model, images, s,
                                                                  batch_size=queries))]
    return kinds


def per_query_line(cases: List[Case], queries: int) -> str:
    """Median time per query of both cases and their ratio (from the same run)."""
    by_name = {case.name: case for case in cases}
    old, new = by_name[REENCODED].median, by_name[ENCODED_ONCE].median
    return (f'\nper query: {1000 * old / queries:.1f} ms re-encoded, '
            f'{1000 * new / queries:.1f} ms encoded once ({old / new:.2f}x faster)')
