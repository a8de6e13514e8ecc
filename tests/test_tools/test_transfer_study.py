"""tools/analysis/transfer_study.py --quick: the study runs end to end and writes its table.

Not the ranking (the quick run's numbers mean nothing): that the ViT is pretrained and
cached, the target is a VTAB-1k task, each method runs through its shipped config and
the table, the training check and the results file are written; a rerun trains nothing.
The same for ``--task seg``: the digit scenes as a custom segmentation data set, the
linear-head segmentation configs.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip('sklearn')

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis' / 'transfer_study.py'


def run_quick(tmp_path, *args):
    env = dict(os.environ, MMSEG_EXPRES_CACHE=str(tmp_path / 'cache'))
    out = subprocess.run(
        [sys.executable, str(TOOL), '--quick', '--work-dir', str(tmp_path / 'study'),
         '--out', str(tmp_path / 'table.md'), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_quick_study_runs_end_to_end_and_writes_its_table(tmp_path):
    stdout = run_quick(tmp_path)
    table = (tmp_path / 'table.md').read_text()
    assert '| linear probe | ' in table and '| EXPRES (shipped config) | ' in table
    assert 'Training check, EXPRES (shipped config)' in table
    assert '| residual proj |' in table and '| tokens |' in table
    results = json.loads((tmp_path / 'study' / 'results.json').read_text())
    runs = {k: v for k, v in results.items() if not k.startswith('_')}
    # per method: one grid run (one lr) on val200 and one final run (one seed) on test
    assert sorted(runs) == sorted(
        f'digits|{m}|{kind}|lr2.5|seed42' for m in ('linear probe', 'EXPRES (shipped config)')
        for kind in ('grid', 'final'))
    for run in runs.values():
        assert 0.0 <= run['top1'] <= 100.0 and 'error' not in run
    # the tuned parameters of the probe: its head alone, width 32 -> 5 classes
    assert runs['digits|linear probe|final|lr2.5|seed42']['tuned'] == 32 * 5 + 5
    pair = results['_pairs']['digits']
    assert Path(pair['weights']).is_file() and pair['task'] == 'diabetic_retinopathy'
    lists = Path(pair['vtab_root']) / pair['task']
    sizes = {s: len((lists / f'{s}.txt').read_text().splitlines())
             for s in ('train800', 'val200', 'train800val200', 'test')}
    assert sizes['train800'] == 400 and sizes['val200'] == 100
    assert sizes['train800val200'] == 500 and sizes['test'] == pair['target_images'] - 500
    assert '[4/4]' in stdout  # the progress line
    # a rerun reads the cached ViT and the recorded runs: nothing trains again
    rerun = run_quick(tmp_path)
    assert 'pretraining' not in rerun
    assert json.loads((tmp_path / 'study' / 'results.json').read_text())[
        'digits|linear probe|grid|lr2.5|seed42'] == runs['digits|linear probe|grid|lr2.5|seed42']


def test_quick_segmentation_study_runs_through_the_custom_data_configs(tmp_path):
    """``--task seg``: the scenes are a custom data set, the linear-head configs run."""
    stdout = run_quick(tmp_path, '--task', 'seg')
    table = (tmp_path / 'table.md').read_text()
    assert '| method | seg-digits test mIoU (lr) | tuned parameters |' in table
    assert '| linear probe | ' in table and '| EXPRES, residual_scope=all | ' in table
    assert 'Training check, EXPRES, residual_scope=all' in table
    assert '| residual proj |' in table and '| head conv_seg.weight |' in table
    results = json.loads((tmp_path / 'study' / 'results.json').read_text())
    runs = {k: v for k, v in results.items() if not k.startswith('_')}
    assert sorted(runs) == sorted(
        f'seg-digits|{m}|{kind}|lr0.001|seed42'
        for m in ('linear probe', 'EXPRES, residual_scope=all') for kind in ('grid', 'final'))
    for run in runs.values():
        assert 0.0 <= run['miou'] <= 100.0 and 'error' not in run
    # the probe tunes the 1x1 convolution alone: width 32 -> background + 5 digits
    assert runs['seg-digits|linear probe|final|lr0.001|seed42']['tuned'] == 32 * 6 + 6
    # the data set: the custom-data layout, each split's scenes with their masks
    root = Path(results['_pairs']['seg-digits']['data_root'])
    assert (root / 'classes.txt').read_text().split('\n')[:2] == ['background', 'digit 5']
    counts = {split: len(list((root / 'images' / split).glob('*.png')))
              for split in ('training', 'validation', 'trainval', 'test')}
    assert counts == {'training': 300, 'validation': 100, 'trainval': 400, 'test': 200}
    assert '[4/4]' in stdout


def test_digit_scenes_masks_mark_the_pasted_digits():
    sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
    import seg_pairs
    scenes = seg_pairs.digit_scenes(64, 32)
    assert [len(scenes[s]) for s in ('training', 'validation', 'test')] == list(
        seg_pairs.SCENES)
    images = np.stack([image for image, _ in scenes['test']]).astype(float)
    masks = np.stack([mask for _, mask in scenes['test']])
    assert images.shape == (200, 64, 64, 3) and masks.shape == (200, 64, 64)
    assert set(np.unique(masks)) == set(range(6))  # background and the five digits
    # every scene shows a digit, and the masked pixels are the bright strokes
    assert (masks.reshape(200, -1) > 0).any(1).all()
    strokes, background = images[masks > 0].mean(), images[masks == 0].mean()
    assert strokes > background + 60, (strokes, background)


def test_dense_pretraining_learns_the_masks_and_is_cached(tmp_path, monkeypatch):
    """seg_pretrain: the patch tokens learn the source masks (above the all-background
    guess), the weights load as a timm ViT's, and a second call trains nothing."""
    sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
    import seg_pairs
    import seg_pretrain
    import torch
    from mmseg_expres.models.backbones.frozen_vit import create_timm_vit
    monkeypatch.setenv('MMSEG_EXPRES_CACHE', str(tmp_path))
    source, masks = seg_pairs.source_scenes(64, 32)
    images, masks = source.images[:300], masks[:300]
    cfg = dict(patch_size=8, embed_dim=32, depth=2, num_heads=2)
    logged = []
    path, acc = seg_pretrain.dense_pretrained_vit(
        'test', images, masks, 'vit_tiny_patch16_224', 64, cfg, epochs=15, seed=0,
        log=logged.append)
    background = (masks == 0).mean() * 100
    assert acc > background + 1, (acc, background)  # 88.1 against 86.4
    vit = create_timm_vit('vit_tiny_patch16_224', 64, cfg)
    vit.load_state_dict(torch.load(path), strict=True)
    logged.clear()
    assert seg_pretrain.dense_pretrained_vit(
        'test', images, masks, 'vit_tiny_patch16_224', 64, cfg, epochs=15, seed=0,
        log=logged.append) == (path, acc) and not logged
