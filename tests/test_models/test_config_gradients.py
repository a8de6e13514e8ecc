"""Every shipped config's trainable parameters all reach its loss.

A parameter that trains but gets no gradient is what MMEngine's
``MMDistributedDataParallel`` (``find_unused_parameters=False``) stops on at the second
iteration of a multi-GPU run ("Expected to have finished reduction in the prior
iteration"). Each config is built on a narrow ViT of the config's own depth and
``out_indices`` (so a block after the last map stays after it), trained one step on a
tiny generated batch, and every ``requires_grad`` parameter must have a gradient.
"""
import functools

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.structures import PixelData

from ..test_configs import CONFIGS, REPO, tiny_model_cfg

#: The depth of each ViT the shipped configs use.
DEPTHS = {'vit_base_patch16_224': 12, 'vit_large_patch16_224': 24,
          'vit_base_patch14_dinov2': 12, 'vit_large_patch14_dinov2': 24}
BACKBONES = ('ExpresViT', 'VPTViT', 'PeftViT')
SIDE, BATCH, SHOTS = 32, 2, 1
HEAD_CHANNELS = 32


@pytest.fixture(autouse=True, scope='module')
def _quick_builds():
    """MMEngine reads every metafile of mmseg (and mmpretrain) for each ``mmseg::`` base a
    config names, about three quarters of ``Config.fromfile``; they do not change. And
    the tensors here are tiny: one thread runs them ~15x faster than a pool on a busy
    machine, where each op waits for the other thread."""
    from mmengine.config import utils
    load, threads = utils.load, torch.get_num_threads()
    utils.load = functools.lru_cache(maxsize=None)(load)
    torch.set_num_threads(1)
    yield
    utils.load = load
    torch.set_num_threads(threads)


def narrow_model_cfg(cfg: Config) -> dict:
    """The config's model on the tiny ViT's width, at the config's depth and maps, with
    narrow heads (UperNet's 512 channels cost more than the rest of the step)."""
    model = tiny_model_cfg(cfg)
    original = cfg.model.backbone
    if original.arch in DEPTHS:  # the demo configs' ViTs are small already
        model['backbone']['vit_cfg']['depth'] = DEPTHS[original.arch]
        if 'out_indices' in original:
            model['backbone']['out_indices'] = tuple(original.out_indices)
        else:  # the class default
            model['backbone'].pop('out_indices')
    for key in ('decode_head', 'auxiliary_head'):
        heads = model.get(key) or []
        for head in heads if isinstance(heads, list) else [heads]:
            if 'BNHead' not in head['type']:  # its channels are its input's, no projection
                head['channels'] = min(head.get('channels', HEAD_CHANNELS), HEAD_CHANNELS)
    return model


def seg_samples(with_supports: bool) -> list:
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(BATCH):
        sample = SegDataSample(metainfo=dict(img_shape=(SIDE, SIDE), pad_shape=(SIDE, SIDE),
                                             ori_shape=(SIDE, SIDE)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, SIDE, SIDE)))
        if with_supports:
            sample.support_masks = PixelData(data=torch.randint(0, 2, (SHOTS, SIDE, SIDE)))
        samples.append(sample)
    return samples


def loss_inputs(model) -> tuple:
    """(inputs, data samples) of one training batch for the model's kind."""
    kind = type(model).__name__
    if kind == 'ImageClassifier':
        from mmpretrain.structures import DataSample
        return (torch.rand(BATCH, 3, SIDE, SIDE),
                [DataSample().set_gt_label(i % 2) for i in range(BATCH)])
    if kind == 'FewShotSegmentor':  # episodes: a query and its supports
        return torch.rand(BATCH, 1 + SHOTS, 3, SIDE, SIDE), seg_samples(True)
    return torch.rand(BATCH, 3, SIDE, SIDE), seg_samples(False)


def parameters_without_gradient(cfg: Config) -> list:
    """Names of the model's trainable parameters that one training step leaves without
    a gradient."""
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmseg')):
        model = MODELS.build(narrow_model_cfg(cfg)).train()
        losses = model.loss(*loss_inputs(model))
    total = sum(v.sum() for k, v in losses.items() if 'loss' in k)
    total.backward()
    return [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]


@pytest.mark.parametrize('path', CONFIGS, ids=[p[len(str(REPO)) + 1:] for p in CONFIGS])
def test_every_trainable_parameter_gets_a_gradient(path):
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone.get('type', '').replace('mmseg.', '')
    if backbone not in BACKBONES:
        pytest.skip(f'{backbone} has no narrow variant')
    assert parameters_without_gradient(cfg) == []
