"""Every shipped config parses and builds (with a tiny backbone) and runs a forward pass."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from .conftest import TINY_VIT

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
VIT_B_WIDTH, TINY_WIDTH, TINY_DEPTH = 768, 32, 4


def _shrink(node):
    """Replace ViT-B widths by the tiny ViT's in a model config tree."""
    if isinstance(node, dict):
        return {k: _shrink(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_shrink(v) for v in node)
    return TINY_WIDTH if node == VIT_B_WIDTH else node


def tiny_model_cfg(cfg: Config) -> dict:
    """The config's model with a tiny ViT-B stand-in and no pretrained file."""
    model = cfg.model.to_dict()
    backbone = model['backbone']
    backbone['pretrained'] = None
    if backbone.get('arch') == 'vit_base_patch16_224':
        model = _shrink(model)
        backbone = model['backbone']
        depth_indices = tuple(range(TINY_DEPTH))
        backbone.update(arch=TINY_VIT['arch'], img_size=32,
                        vit_cfg=dict(TINY_VIT['vit_cfg']))
        count = len(backbone.get('out_indices', ()))
        backbone['out_indices'] = depth_indices[TINY_DEPTH - count:] if count else ()
    return model


def test_every_top_level_config_is_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'expres_vit-b_ade20k.py', 'expres_vit-b_linear_ade20k.py',
            'expres_vit-b_cityscapes.py', 'expres_vit-b_linear_cityscapes.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_and_runs(path):
    cfg = Config.fromfile(path)
    assert 'mmseg_expres.models' in cfg.custom_imports['imports']
    model_cfg = tiny_model_cfg(cfg)
    if model_cfg['backbone'].get('type') not in ('ExpresViT', 'VPTViT', 'mmseg.ExpresViT',
                                                 'mmseg.VPTViT'):
        pytest.skip(f'{model_cfg["backbone"].get("type")} has no tiny variant')
    # the config's scope (mmseg or mmpretrain) for this test only, not for later tests
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmseg')):
        model = MODELS.build(model_cfg).eval()
        with torch.no_grad():
            out = model(torch.rand(1, 3, 32, 32), mode='tensor')
    assert out is not None
