"""The LoRA baseline through the tools as users run them: train, resume, export merged,
init_model / inference_model, and a checkpoint of another method refused."""
import glob
import os.path as osp

import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.datasets.demo_data.segmentation import make_ade20k

from .seg_runs import run_tool, tool, write_tiny_config, write_tiny_vit

LORA_CONFIG = 'baselines/lora_vit-b16_linear_8xb2-80k_ade20k-512x512.py'
EXPRES_CONFIG = 'expres/expres_vit-b16_linear_8xb2-80k_ade20k-512x512.py'
# No randomness left but the data order (which resume restores), and LoRA's B moves from
# zero in the first step, so a resumed run must end where an uninterrupted one does.
DETERMINISTIC = '''
train_pipeline[2] = dict(type='Resize', scale=crop_size, keep_ratio=False)
model['decode_head']['dropout_ratio'] = 0.0
model['backbone']['lora_dropout'] = 0.0  # no randomness: resume must equal a straight run
'''


@pytest.fixture(scope='module')
def lora_run(tmp_path_factory):
    """tools/train.py on the LoRA config: interrupted after 2 of 4 steps and resumed, and
    once straight through."""
    root = tmp_path_factory.mktemp('peft')
    ade = make_ade20k(str(root / 'ade'), num_train=6, num_val=2, size=(48, 64))
    vit = write_tiny_vit(str(root / 'tiny_vit.pth'))
    cfg = write_tiny_config(str(root / 'cfg.py'), LORA_CONFIG, ade, vit, linear=True,
                            max_iters=4, ckpt_interval=2, extra=DETERMINISTIC)
    run_tool([tool('train.py'), cfg, '--work-dir', str(root / 'run'),
              '--cfg-options', 'train_cfg.max_iters=2'])
    resumed = run_tool([tool('train.py'), cfg, '--work-dir', str(root / 'run'), '--resume'])
    run_tool([tool('train.py'), cfg, '--work-dir', str(root / 'straight')])
    return root, ade, vit, cfg, resumed.stdout + resumed.stderr


def _state(path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)


def test_lora_task_checkpoint_holds_lora_and_resumes(lora_run):
    root, _, _, _, log = lora_run
    assert 'resumed epoch: 0, iter: 2' in log and 'PeftViT(test_vit, LoRA r=8' in log
    task = _state(root / 'run' / 'iter_4.pth')
    vit_keys = [k for k in task['state_dict'] if k.startswith('backbone.vit.')]
    assert vit_keys and all('.lora_A.' in k or '.lora_B.' in k for k in vit_keys)
    assert len(vit_keys) == 2 * 4  # A and B of qkv in each of the 4 blocks
    assert 'backbone.frozen_fingerprint_buffer' in task['state_dict']
    assert {int(s['step']) for s in task['optimizer']['state'].values()} == {4}
    for key, value in _state(root / 'straight' / 'iter_4.pth')['state_dict'].items():
        assert_close(task['state_dict'][key], value, msg=key)
    assert task['state_dict']['backbone.vit.blocks.0.attn.qkv.lora_B.default.weight'] \
        .abs().sum() > 0


def test_merged_export_predicts_as_the_task_checkpoint(lora_run):
    from mmseg.apis import inference_model

    from mmseg_expres.apis import init_model
    root, ade, _, cfg, _ = lora_run
    task_ckpt, merged_ckpt = str(root / 'run' / 'iter_4.pth'), str(root / 'merged.pth')
    run_tool([tool('export_full_checkpoint.py'), cfg, task_ckpt, merged_ckpt, '--merge'])
    merged = init_model(str(root / 'merged.py'), merged_ckpt)
    assert merged.cfg.model.backbone.merged and merged.cfg.model.backbone.pretrained is None
    assert not any('lora' in k or 'base_layer' in k for k in merged.state_dict())
    model = init_model(cfg, task_ckpt)
    image = sorted(glob.glob(osp.join(ade, 'images', 'validation', '*.jpg')))[0]
    ours, folded = inference_model(model, image), inference_model(merged, image)
    assert_close(folded.seg_logits.data, ours.seg_logits.data, rtol=1e-4, atol=1e-4)
    assert torch.equal(folded.pred_sem_seg.data, ours.pred_sem_seg.data)


def test_lora_checkpoint_into_an_expres_config_names_both(lora_run, tmp_path):
    from mmseg_expres.apis import init_model
    from mmseg_expres.models.backbones import CheckpointMismatchError
    root, ade, vit, _, _ = lora_run
    expres_cfg = write_tiny_config(str(tmp_path / 'expres.py'), EXPRES_CONFIG, ade, vit,
                                   linear=True)
    with pytest.raises(CheckpointMismatchError,
                       match='trained with LoRA .*but the config builds ExpresViT with EXPRES'):
        init_model(expres_cfg, str(root / 'run' / 'iter_4.pth'))
