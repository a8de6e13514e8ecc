"""The few-shot segmentation tools as a user runs them: the demo's config and data."""
import json
import os.path as osp
import re

import numpy as np
import pytest
from PIL import Image

from ..test_tools.seg_runs import REPO, run_tool, tool

CONFIG = str(REPO / 'configs' / 'demo' / 'expres_vit-demo_proto_1xb4-400it_pascal5i-480x480.py')


@pytest.fixture(scope='module')
def folds_run(tmp_path_factory):
    """tools/fewshot_seg/run_folds.py on fold 0, 1 and 2 shots: one training, two tests."""
    tmp = tmp_path_factory.mktemp('fss')
    run_tool([tool('fewshot_seg/make_demo_data.py'), '--out', str(tmp), '--num-train', '40',
              '--num-val', '60', '--size', '32'])
    voc = str(tmp / 'VOCdevkit' / 'VOC2012')
    options = [f'data_root={voc}', f'model.backbone.pretrained={tmp / "vit_demo.pth"}',
               'min_pixels=1', 'num_episodes=6', 'train_cfg.max_iters=2',
               'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2']
    work = str(tmp / 'work')
    args = [tool('fewshot_seg/run_folds.py'), '--config', CONFIG, '--work-dir', work,
            '--folds', '0', '--shots', '1', '2', '--cfg-options', *options]
    return dict(voc=voc, config=CONFIG, options=options, work=work, args=args,
                first=run_tool(args))


def test_run_folds_trains_once_tests_each_shot_and_prints_the_table(folds_run):
    work = folds_run['work']
    results = json.load(open(osp.join(work, 'results.json')))
    assert sorted(results['runs']) == ['fold0/shot1', 'fold0/shot2']
    assert all(r['episodes'] == 6 for r in results['runs'].values())
    dumped = open(osp.join(work, 'fold0', 'test_shot2', osp.basename(CONFIG))).read()
    assert 'shot=2' in dumped and 'fold=0' in dumped  # --cfg-options reached the test run
    table = folds_run['first'].stdout
    miou = results['runs']['fold0/shot2']['mIoU']
    assert re.search(rf'\| 2-shot \| {miou:.1f} \| {miou:.1f} \| ', table)


def test_run_folds_resumes_without_running_again(folds_run):
    before = osp.getmtime(osp.join(folds_run['work'], 'fold0', 'protocol.log'))
    again = run_tool(folds_run['args'])
    assert osp.getmtime(osp.join(folds_run['work'], 'fold0', 'protocol.log')) == before
    assert again.stdout.splitlines()[-2:] == folds_run['first'].stdout.splitlines()[-2:]


def test_segment_tool_writes_the_picture_and_the_mask(folds_run, tmp_path):
    voc, work = folds_run['voc'], folds_run['work']
    checkpoint = json.load(open(osp.join(work, 'results.json')))['checkpoints']['0']
    image = osp.join(voc, 'JPEGImages', '{}.jpg')
    out = str(tmp_path / 'result.png')
    run_tool([tool('fewshot_seg/segment.py'), folds_run['config'], checkpoint,
              '--query', image.format('2011_000000'), '--supports', image.format('2011_000020'),
              '--masks', osp.join(voc, 'SegmentationClassAug', '2011_000020.png'),
              '--class-id', '1', '--out', out, '--cfg-options', folds_run['options'][1]])
    assert np.asarray(Image.open(out)).shape == (32, 32, 3)
    assert set(np.unique(np.asarray(Image.open(str(tmp_path / 'result_mask.png'))))) <= {0, 1}
    bad = run_tool([tool('fewshot_seg/segment.py'), folds_run['config'], checkpoint,
                    '--query', image.format('2011_000000'), '--supports',
                    image.format('2011_000020'), '--masks'] + ['m.png'] * 2, check=False)
    assert bad.returncode != 0 and 'No such file: m.png' in bad.stderr


def test_segment_tool_encodes_supports_once_for_several_queries(folds_run, tmp_path):
    """Three queries in batches of 2 (the last one short) write the masks that each
    query gives alone; several queries need --out-dir."""
    voc, work = folds_run['voc'], folds_run['work']
    checkpoint = json.load(open(osp.join(work, 'results.json')))['checkpoints']['0']
    image = osp.join(voc, 'JPEGImages', '{}.jpg')
    names = ['2011_000000', '2011_000001', '2011_000002']
    common = [tool('fewshot_seg/segment.py'), folds_run['config'], checkpoint,
              '--supports', image.format('2011_000020'), '--masks',
              osp.join(voc, 'SegmentationClassAug', '2011_000020.png'), '--class-id', '1',
              '--cfg-options', folds_run['options'][1]]
    run_tool(common + ['--query', *[image.format(n) for n in names], '--batch-size', '2',
                       '--out-dir', str(tmp_path / 'many')])
    run_tool(common + ['--query', image.format(names[2]), '--out', str(tmp_path / 'one.png')])
    assert all((tmp_path / 'many' / f'{name}.png').is_file() for name in names)
    np.testing.assert_array_equal(  # the short batch's query
        np.asarray(Image.open(str(tmp_path / 'many' / f'{names[2]}_mask.png'))),
        np.asarray(Image.open(str(tmp_path / 'one_mask.png'))))
    bad = run_tool(common + ['--query', image.format(names[0]), image.format(names[1])],
                   check=False)
    assert bad.returncode != 0 and '2 queries: give --out-dir' in bad.stderr

