"""docs/custom_data.md followed from a folder outside the clone, with the user's own leaf
config, through every tool: checker, train, test, infer (images, a folder, a video, a
palette given at inference, same-size overlays), export, and the mmseg API snippets of
the guide and the README run as written. Each output is checked.

A planted copy of the data set (the six defects of a first data set) is reported by
``tools/train.py`` in one message listing every bad file with its fix.
"""
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from mmseg_expres.datasets.demo_data.segmentation import CUSTOM_CLASSES

from ..test_datasets.test_training_check import plant_defects
from .seg_runs import REPO, tool
from .test_custom_data_tools import in_process, run, user  # noqa: F401 (fixture)
from .test_infer import run_in_process

#: one colour per class, far from the demo palette (red, green, blue, yellow)
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
FRAMES, FRAME_SIZE = 4, (64, 80)  # h, w: the generated images' size


def run_here(args, user):
    """A tool (or ``python -c``) as the user runs it from their folder: (status, output)."""
    result = run(args, cwd=user['home'], check=False, env=user['env'])
    return result.returncode, result.stdout + result.stderr


def python_block(path: str, marker: str) -> str:
    """The ```python block of a doc that contains ``marker``, as written."""
    text = open(path, encoding='utf-8').read()
    return next(b for b in re.findall(r'```python\n(.*?)```', text, re.S) if marker in b)


@pytest.fixture(scope='module')
def walk(user):
    """The user's folder after the guide's first commands (``user``: assets, their
    config, a training), with the run where the guide puts it, work_dirs/my_run."""
    os.makedirs(user['home'] / 'work_dirs', exist_ok=True)
    if not osp.exists(user['home'] / 'work_dirs' / 'my_run'):
        os.symlink(user['work'], user['home'] / 'work_dirs' / 'my_run')
    return dict(user, work=user['home'] / 'work_dirs' / 'my_run')


def test_checker_passes_the_users_data(walk, capsys, monkeypatch):
    monkeypatch.chdir(walk['home'])
    monkeypatch.setenv('MMSEG_EXPRES_CACHE', walk['env']['MMSEG_EXPRES_CACHE'])
    assert in_process(tool('check_seg_data.py'), 'my_config.py', '--nproc', '1') == 0
    assert 'OK: 8 image/mask pairs, no problem found.' in capsys.readouterr().out


def test_training_log_is_quiet_and_says_what_was_checked_and_what_trains(walk):
    log = walk['log']
    assert 'requires_grad=False' not in log
    assert 'Data check passed: 8 image/mask pairs (train 6, val 2)' in log
    line = next(x for x in log.splitlines() if 'Trains ' in x and 'Frozen' in x)
    assert 'backbone.prompts' in line and 'decode_head' in line and 'backbone.vit (' in line
    assert osp.isfile(walk['work'] / 'iter_4.pth')


def test_dumped_config_says_what_ran(walk):
    from mmengine.config import Config
    text = (walk['work'] / 'my_config.py').read_text()
    assert text.startswith('# The config of this run as it ran (CustomSegRunner)')
    assert 'max_iters = 300' not in text and 'ADE20KDataset' not in text
    assert 'num_classes=150' not in text
    dumped = Config.fromfile(str(walk['work'] / 'my_config.py'))
    assert dumped.train_cfg.max_iters == 4 and dumped.num_classes == 4
    assert list(dumped.classes) == list(CUSTOM_CLASSES)


def test_test_tool_scores_the_users_config(walk):
    status, out = run_here([tool('test.py'), 'my_config.py', 'work_dirs/my_run/iter_4.pth',
                            '--work-dir', 'test_run'], walk)
    assert status == 0 and 'mIoU' in out
    assert all(name in out for name in CUSTOM_CLASSES)  # the per-class IoU table


def _inputs(walk) -> list:
    """An image, the validation folder and a short video of the user's."""
    home, data = walk['home'], walk['data']
    image = osp.join(data, 'images', 'training', 'training_0000.jpg')
    video = str(home / 'clip.mp4')
    if not osp.isfile(video):
        writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 5,
                                 FRAME_SIZE[::-1])
        for _ in range(FRAMES):
            writer.write(cv2.imread(image))
        writer.release()
    return [image, osp.join(data, 'images', 'validation'), video]


def test_infer_images_folder_and_video_with_a_palette_given_at_inference(walk, capsys,
                                                                          monkeypatch):
    home = walk['home']
    monkeypatch.chdir(home)
    palette = home / 'palette.txt'
    palette.write_text(''.join(f'{n} {r} {g} {b}\n'
                               for n, (r, g, b) in zip(CUSTOM_CLASSES, COLOURS)))
    common = ['my_config.py', 'work_dirs/my_run/iter_4.pth', *_inputs(walk), '--opacity',
              '1', '--no-progress']
    status, out, err = run_in_process('infer.py', common + [
        '--out-dir', 'out', '--palette', 'palette.txt', '--no-legend'], capsys)
    assert status == 0, out + err
    assert 'Segmented 3 image(s) and 4 frame(s) of 1 video(s)' in out
    pred = np.asarray(Image.open(home / 'out' / 'training_0000_pred.png'))
    overlay = np.asarray(Image.open(home / 'out' / 'training_0000_overlay.png'))
    assert pred.shape == FRAME_SIZE and pred.max() < 4
    assert overlay.shape == (*FRAME_SIZE, 3)  # --no-legend: the image's size
    assert np.array_equal(overlay, np.asarray(COLOURS, np.uint8)[pred])  # opacity 1
    folder = sorted(os.listdir(home / 'out' / 'validation'))
    assert folder == ['validation_0000_overlay.png', 'validation_0000_pred.png',
                      'validation_0001_overlay.png', 'validation_0001_pred.png']
    video = cv2.VideoCapture(str(home / 'out' / 'clip_overlay.mp4'))
    frames = [video.read() for _ in range(FRAMES + 1)]
    assert [ok for ok, _ in frames] == [True] * FRAMES + [False]
    assert frames[0][1].shape[:2] == FRAME_SIZE
    # the same choice through --cfg-options, with the default legend panel on the right
    status, out, err = run_in_process('infer.py', common[:3] + [
        '--opacity', '1', '--no-progress', '--out-dir', 'out2', '--cfg-options',
        'palette=[' + ','.join(f'[{r},{g},{b}]' for r, g, b in COLOURS) + ']'], capsys)
    assert status == 0, out + err
    legend = np.asarray(Image.open(home / 'out2' / 'training_0000_overlay.png'))
    assert legend.shape[1] == FRAME_SIZE[1] + 200
    assert np.array_equal(legend[:FRAME_SIZE[0], :FRAME_SIZE[1]], overlay)


def test_export_then_infer_without_the_vit_file(walk, capsys, monkeypatch):
    home = walk['home']
    monkeypatch.chdir(home)
    status, out, err = run_in_process('export_full_checkpoint.py', [
        'my_config.py', 'work_dirs/my_run/iter_4.pth', 'export/full.pth'], capsys)
    assert status == 0, out + err
    image = _inputs(walk)[0]
    shutil.move('demo/vit_demo.pth', 'vit_elsewhere.pth')  # a machine without the ViT
    try:
        status, out, err = run_in_process('infer.py', [
            'export/full.py', 'export/full.pth', image, '--out-dir', 'out_full',
            '--no-progress'], capsys)
    finally:
        shutil.move('vit_elsewhere.pth', 'demo/vit_demo.pth')
    assert status == 0, out + err
    status, out, err = run_in_process('infer.py', [
        'my_config.py', 'work_dirs/my_run/iter_4.pth', image, '--out-dir', 'out_task',
        '--no-progress'], capsys)
    assert status == 0, out + err
    assert np.array_equal(np.asarray(Image.open(home / 'out_full' / 'training_0000_pred.png')),
                          np.asarray(Image.open(home / 'out_task' / 'training_0000_pred.png')))


def test_the_guides_and_the_readmes_api_snippets_run_as_written(walk):
    """The python blocks, their paths pointed at this run, in a fresh interpreter."""
    home, work = walk['home'], walk['work']
    os.symlink(work / 'iter_4.pth', work / 'iter_80000.pth')
    image = _inputs(walk)[0]
    shutil.copy(image, home / 'new_image.jpg')
    shutil.copy(image, home / 'demo.jpg')
    guide = python_block(str(REPO / 'docs' / 'custom_data.md'), 'import mmseg_expres')
    readme = python_block(str(REPO / 'README.md'), 'MMSegInferencer')
    readme = (readme.replace('configs/expres_vit-b_ade20k.py', 'work_dirs/my_run/my_config.py')
              .replace('TASK.pth', 'work_dirs/my_run/iter_4.pth').replace("'cuda:0'", "'cpu'")
              .replace("out_dir='out'", "out_dir='inferencer_out'"))
    checks = ('\nassert model.decode_head.conv_seg.out_channels == 4\n'
              'assert ours.decode_head.conv_seg.out_channels == 4\n'
              'assert tuple(ours.dataset_meta["classes"]) == ' + repr(CUSTOM_CLASSES) + '\n')
    status, out = run_here(['-c', guide + checks + readme], walk)
    assert status == 0, out
    assert Image.open(home / 'pred.png').size[0] >= FRAME_SIZE[1]
    assert os.listdir(home / 'inferencer_out')
    # why the guide's first line is there: without it, MMEngine cannot read my_config.py
    read = 'from mmengine.config import Config; Config.fromfile("my_config.py")'
    status, out = run_here(['-c', read], walk)
    assert status != 0 and 'mmengine does not support to load mmseg_expres config' in out
    assert run_here(['-c', 'import mmseg_expres; ' + read], walk)[0] == 0


def test_train_reports_every_planted_defect_in_one_message(walk, tmp_path, capsys,
                                                           monkeypatch):
    bad = str(tmp_path / 'bad')
    shutil.copytree(walk['data'], bad)
    planted = plant_defects(bad)
    monkeypatch.chdir(walk['home'])
    monkeypatch.setenv('MMSEG_EXPRES_CACHE', walk['env']['MMSEG_EXPRES_CACHE'])
    status, out, err = run_in_process('train.py', [
        'my_config.py', '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        f'data_root={bad}'], capsys)
    message = str(status)
    assert 'has 6 problem(s)' in message and 'Iter(train)' not in out + err
    for kind, path in planted.items():
        assert f'{kind}: 1 file(s)\n  {path}: ' in message
    assert 'cannot decode' in message  # the truncated JPEG, before any worker reads it
    assert "and this run's --cfg-options" in message
    assert not (tmp_path / 'w').exists() or not list((tmp_path / 'w').rglob('*.pth'))
