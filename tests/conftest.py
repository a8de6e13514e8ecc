"""Shared fixtures: a tiny timm ViT so the whole suite runs in minutes on 2 CPU cores."""
import copy

import pytest
import torch

#: 32 px images, patch 8 (4x4 grid), width 32, depth 4, 2 heads.
TINY_VIT = dict(arch='test_vit', img_size=32,
                vit_cfg=dict(patch_size=8, embed_dim=32, depth=4, num_heads=2))


def tiny_backbone_cfg(**overrides) -> dict:
    """An ExpresViT config dict on the tiny ViT; ``overrides`` replace any key."""
    cfg = dict(type='ExpresViT', out_indices=(1, 3), **copy.deepcopy(TINY_VIT))
    cfg.update(overrides)
    return cfg


def build_tiny(**overrides):
    from mmseg_expres.models import ExpresViT
    cfg = tiny_backbone_cfg(**overrides)
    cfg.pop('type')
    return ExpresViT(**cfg)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope='session')
def _data_check_cache(tmp_path_factory):
    """The label-check cache of tools/train.py (and the tools the tests start) in a
    temporary folder, not the user's ~/.cache."""
    import os
    os.environ['MMSEG_EXPRES_CACHE'] = str(tmp_path_factory.mktemp('mmseg_expres_cache'))
