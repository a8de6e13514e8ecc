"""apis.init_model builds segmentation configs with mmseg's init_model and classification
configs with mmpretrain's, and leaves the caller's config as it was."""
import copy
import os.path as osp

import pytest
from mmengine.config import Config

from mmseg_expres.apis import init_model

from ..test_configs import REPO, tiny_model_cfg


@pytest.mark.parametrize('name,model_type', [
    ('expres_vit-b_ade20k.py', 'EncoderDecoder'), ('expres_vit-b_vtab.py', 'ImageClassifier')])
def test_init_model_uses_the_configs_library(name, model_type):
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    cfg.model = tiny_model_cfg(cfg)
    before = copy.deepcopy(cfg.to_dict())
    model = init_model(cfg)
    assert type(model).__name__ == model_type and not model.training
    assert type(model.backbone).__name__ == 'ExpresViT'
    assert cfg.to_dict() == before
