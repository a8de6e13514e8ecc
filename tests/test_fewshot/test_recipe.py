"""The few-shot configs: NOAH's fixed recipe, and one head, data and schedule for all."""
import pytest
from mmengine.config import Config

from .fewshot_data import REPO

METHODS = ('expres/expres', 'baselines/vpt-deep', 'baselines/vpt-shallow',
           'baselines/linear-probe', 'baselines/finetune')
CONFIGS = {m.split('/')[1]: Config.fromfile(
    REPO / 'configs' / f'{m}_vit-b16_1xb64-100e_fgvc-fewshot.py') for m in METHODS}
SHARED = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'param_scheduler',
          'train_cfg', 'val_evaluator', 'auto_scale_lr', 'randomness', 'runner_type')


@pytest.mark.parametrize('method', [m for m in CONFIGS if m != 'expres'])
def test_baselines_share_head_data_and_schedule_with_expres(method):
    expres, cfg = CONFIGS['expres'], CONFIGS[method]
    for key in SHARED:
        assert cfg[key] == expres[key], key
    assert cfg.model.head == expres.model.head
    assert cfg.model.train_cfg == expres.model.train_cfg  # Mixup / CutMix
    assert cfg.model.backbone.arch == 'vit_base_patch16_224'
    assert (cfg.optim_wrapper == expres.optim_wrapper) == (method != 'finetune')


def test_noahs_recipe():
    cfg = CONFIGS['expres']
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=5e-3, weight_decay=1e-4)
    assert cfg.batch_size == cfg.auto_scale_lr.base_batch_size == 64
    assert cfg.train_dataloader.drop_last is True
    assert cfg.train_cfg.max_epochs == cfg.train_cfg.val_interval == 100
    assert [s.type for s in cfg.param_scheduler] == ['LinearLR', 'CosineAnnealingLR']
    assert cfg.param_scheduler[0].end == cfg.param_scheduler[1].begin == 10
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert [(a.type, a.alpha) for a in cfg.model.train_cfg.augments] == [('Mixup', 0.8),
                                                                         ('CutMix', 1.0)]
    train = [step.type for step in cfg.train_dataloader.dataset.pipeline]
    assert train == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandAugment',
                     'RandomErasing', 'PackInputs']
    test = cfg.test_dataloader.dataset.pipeline
    assert (test[1].scale, test[2].crop_size) == ((256, 256), 224)
    assert (cfg.train_split, cfg.val_split, cfg.test_split) == ('shots', 'test', 'test')
    assert cfg.randomness.seed == 0
