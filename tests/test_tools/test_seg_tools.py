"""The segmentation tools as users run them: train, test, resume, export, inference."""
import glob
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.datasets.demo_data.segmentation import make_ade20k, make_cityscapes

from .seg_runs import ADE_CONFIG, run_tool, tool, write_tiny_config, write_tiny_vit

CITYSCAPES_LINEAR_CONFIG = 'expres/expres_vit-b16_linear_8xb2-80k_cityscapes-512x1024.py'


def _state(ckpt: str) -> dict:
    return torch.load(ckpt, map_location='cpu', weights_only=True)


def test_train_writes_task_checkpoint_and_evaluates(trained_ade):
    _, work, result = trained_ade
    log = result.stdout + result.stderr
    assert 'trainable of' in log and 'mIoU' in log
    checkpoint = _state(osp.join(work, 'iter_4.pth'))
    keys = checkpoint['state_dict'].keys()
    assert not any(k.startswith('backbone.vit.') for k in keys)  # frozen ViT left out
    assert {'backbone.prompts.tokens', 'backbone.frozen_fingerprint_buffer'} <= set(keys)
    assert any(k.startswith('decode_head.') for k in keys)
    meta = checkpoint['meta']
    assert meta['task_checkpoint'] and meta['iter'] == 4
    assert len(meta['dataset_meta']['classes']) == 150 and meta['dataset_meta']['palette']


def test_test_tool_on_task_checkpoint(trained_ade, tmp_path):
    cfg, work, _ = trained_ade
    result = run_tool([tool('test.py'), cfg, osp.join(work, 'iter_4.pth'),
                       '--work-dir', str(tmp_path), '--show-dir', str(tmp_path / 'vis')])
    assert 'mIoU' in result.stdout + result.stderr
    assert glob.glob(str(tmp_path / '**' / '*.png'), recursive=True)


def test_multi_scale_flip_test_through_tools_test_tta(trained_ade, tmp_path):
    """VPT's "MS" column: mmseg's SegTTAModel over the ADE20K tta_pipeline (6 scales x 2
    flips) on a task checkpoint, with the stock tools/test.py --tta."""
    cfg, work, _ = trained_ade
    checkpoint = osp.join(work, 'iter_4.pth')
    single = run_tool([tool('test.py'), cfg, checkpoint, '--work-dir', str(tmp_path / 'ss')])
    tta = run_tool([tool('test.py'), cfg, checkpoint, '--tta', '--work-dir',
                    str(tmp_path / 'ms')])
    dumped = (tmp_path / 'ms' / 'cfg.py').read_text()
    assert "type='SegTTAModel'" in dumped and "type='TestTimeAug'" in dumped
    mious = [float(re.findall(r'mIoU: ([0-9.]+)', r.stdout + r.stderr)[-1])
             for r in (single, tta)]
    assert all(0 <= m <= 100 for m in mious)


def test_resume_continues_instead_of_restarting(tmp_path, ade_root, vit_ckpt):
    # No randomness left but the data order (which resume restores), so that the resumed
    # run must end where an uninterrupted one does.
    deterministic = '''
train_pipeline[2] = dict(type='Resize', scale=crop_size, keep_ratio=False)
model['decode_head']['dropout_ratio'] = 0.0
model['auxiliary_head'] = dict(in_channels=32, channels=8, dropout_ratio=0.0)
'''
    cfg = write_tiny_config(str(tmp_path / 'cfg.py'), ADE_CONFIG, ade_root,
                            vit_ckpt, max_iters=4, ckpt_interval=2, extra=deterministic)
    # The interrupted run: stops after its first checkpoint (iteration 2 of 4).
    run_tool([tool('train.py'), cfg, '--work-dir', str(tmp_path / 'run'),
              '--cfg-options', 'train_cfg.max_iters=2'])
    resumed = run_tool([tool('train.py'), cfg, '--work-dir', str(tmp_path / 'run'),
                        '--resume'])
    assert 'resumed epoch: 0, iter: 2' in resumed.stdout + resumed.stderr
    straight = tmp_path / 'straight'
    run_tool([tool('train.py'), cfg, '--work-dir', str(straight)])

    after_resume = _state(str(tmp_path / 'run' / 'iter_4.pth'))
    uninterrupted = _state(str(straight / 'iter_4.pth'))
    assert after_resume['meta']['iter'] == 4
    adam_steps = {int(s['step']) for s in after_resume['optimizer']['state'].values()}
    assert adam_steps == {4}  # 2 steps before the interruption + 2 after, not 2
    assert after_resume['param_schedulers'] == uninterrupted['param_schedulers']
    for key, value in uninterrupted['state_dict'].items():
        assert_close(after_resume['state_dict'][key], value, msg=key)


def test_cityscapes_layout_with_sliding_window(tmp_path, vit_ckpt):
    root = make_cityscapes(str(tmp_path), num_train=4, num_val=2, size=(64, 128))
    cfg = write_tiny_config(str(tmp_path / 'cfg.py'), CITYSCAPES_LINEAR_CONFIG,
                            root, vit_ckpt, crop_size=(32, 64), linear=True,
                            reduce_zero_label=False, max_iters=2, ckpt_interval=2,
                            extra="model.update(test_cfg=dict(mode='slide', "
                                  "crop_size=crop_size, stride=(21, 43)))\n")
    result = run_tool([tool('train.py'), cfg, '--work-dir', str(tmp_path / 'run')])
    assert 'mIoU' in result.stdout + result.stderr
    run_tool([tool('test.py'), cfg, str(tmp_path / 'run' / 'iter_2.pth'),
              '--work-dir', str(tmp_path / 'test')])


def test_inference_apis_task_and_self_contained_agree(trained_ade, tmp_path, ade_root,
                                                      vit_ckpt):
    from mmseg.apis import MMSegInferencer, inference_model, init_model, show_result_pyplot
    cfg, work, _ = trained_ade
    task_ckpt = osp.join(work, 'iter_4.pth')
    full_ckpt = str(tmp_path / 'full.pth')
    run_tool([tool('export_full_checkpoint.py'), cfg, task_ckpt, full_ckpt])
    assert osp.getsize(full_ckpt) > 0 and osp.isfile(str(tmp_path / 'full.py'))

    image = sorted(glob.glob(osp.join(ade_root, 'images', 'validation', '*.jpg')))[0]
    task_model = init_model(cfg, task_ckpt, device='cpu')
    full_model = init_model(str(tmp_path / 'full.py'), full_ckpt, device='cpu')
    assert full_model.cfg.model.backbone.pretrained is None
    result = inference_model(task_model, image)
    pred_task = result.pred_sem_seg.data
    show_result_pyplot(task_model, image, result, show=False,
                       out_file=str(tmp_path / 'pred.png'))
    assert (tmp_path / 'pred.png').stat().st_size > 0
    pred_full = inference_model(full_model, image).pred_sem_seg.data
    assert torch.equal(pred_task, pred_full)
    assert task_model.dataset_meta['classes'][0] == 'wall'

    inferencer = MMSegInferencer(model=cfg, weights=task_ckpt, device='cpu')
    out = inferencer(image, out_dir=str(tmp_path / 'out'))
    assert np.array_equal(out['predictions'], pred_task[0].numpy())
    assert glob.glob(str(tmp_path / 'out' / 'vis' / '*'))


def test_task_checkpoint_on_other_backbone_raises(trained_ade, tmp_path):
    from mmseg.apis import init_model

    from mmseg_expres.models.backbones import CheckpointMismatchError
    cfg, work, _ = trained_ade
    other_vit = write_tiny_vit(str(tmp_path / 'other.pth'), seed=1)
    with pytest.raises(CheckpointMismatchError, match='fingerprint'):
        init_model(cfg, osp.join(work, 'iter_4.pth'), device='cpu',
                   cfg_options={'model.backbone.pretrained': other_vit})


RANK_DUMP_HOOK = '''
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankDumpHook(Hook):
    """Each rank saves its trainable parameters after training."""

    def after_train(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        trainable = {k: p.detach().clone() for k, p in model.named_parameters()
                     if p.requires_grad}
        torch.save(trainable, f'{runner.work_dir}/rank{get_rank()}.pth')
'''


def test_two_process_cpu_training_through_dist_train_sh(tmp_path, ade_root, vit_ckpt):
    import socket
    (tmp_path / 'rank_dump.py').write_text(RANK_DUMP_HOOK)
    extra = ("custom_imports = dict(imports=['mmseg_expres.models', 'mmseg_expres.engine', "
             "'mmseg_expres.datasets', 'rank_dump'], allow_failed_imports=False)\n"
             "custom_hooks = [dict(type='TaskCheckpointHook'), dict(type='RankDumpHook')]\n")
    cfg = write_tiny_config(str(tmp_path / 'cfg.py'), ADE_CONFIG, ade_root,
                            vit_ckpt, max_iters=3, ckpt_interval=3, extra=extra)
    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    work = tmp_path / 'run'
    result = run_tool([tool('dist_train.sh'), cfg, '2', '--work-dir', str(work)],
                      env={'PORT': str(port), 'PYTHONPATH': os.pathsep.join(
                          [str(tmp_path), os.environ.get('PYTHONPATH', '')])})
    log = result.stdout + result.stderr
    assert 'SyncBN layers are built as BN' in log
    rank0, rank1 = (torch.load(work / f'rank{r}.pth', weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys() and 'backbone.prompts.tokens' in rank0
    assert not any(k.startswith('backbone.vit.') for k in rank0)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert rank0['backbone.prompts.residuals.q'].abs().sum() > 0  # zero-init, so trained
    saved = _state(str(work / 'iter_3.pth'))['state_dict']
    assert torch.equal(saved['backbone.prompts.residuals.q'], rank0['backbone.prompts.residuals.q'])


def test_corrupt_image_in_a_worker_names_the_file(tmp_path, vit_ckpt):
    root = make_ade20k(str(tmp_path), num_train=4, num_val=1, size=(32, 32))
    broken = osp.join(root, 'images', 'training', 'ADE_train_00000002.jpg')
    with open(broken, 'wb') as f:
        f.write(b'truncated')
    cfg = write_tiny_config(str(tmp_path / 'cfg.py'), ADE_CONFIG, root,
                            vit_ckpt, max_iters=4, workers=1)
    # the loader's own message, past the check that tools/train.py runs first
    result = run_tool([tool('train.py'), cfg, '--work-dir', str(tmp_path / 'run'),
                       '--no-data-check'], check=False)
    assert result.returncode != 0
    assert 'Cannot decode image' in result.stderr and 'ADE_train_00000002.jpg' in result.stderr
    checked = run_tool([tool('train.py'), cfg, '--work-dir', str(tmp_path / 'run2')],
                       check=False)
    assert 'undecodable image' in checked.stderr and 'ADE_train_00000002.jpg' in checked.stderr
    assert 'Iter(train)' not in checked.stdout + checked.stderr


def test_wrong_data_root_fails_before_training(tmp_path, vit_ckpt):
    cfg = write_tiny_config(str(tmp_path / 'cfg.py'), ADE_CONFIG,
                            str(tmp_path / 'ADEChallengeData2016'), vit_ckpt)
    result = run_tool([tool('train.py'), cfg, '--work-dir', str(tmp_path / 'run')],
                      check=False)
    assert result.returncode != 0
    # every missing folder in one message, with the layout expected and the fix
    assert 'missing folder: 4 file(s)' in result.stderr and 'expected layout' in result.stderr
    assert 'Set data_root' in result.stderr
    assert 'Iter(train)' not in result.stdout + result.stderr
