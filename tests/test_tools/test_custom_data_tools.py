"""A user's own data set, outside the clone, through the stock tools (docs/custom_data.md).

The data set (four named classes) and a five-line config that inherits ours through the
package scope live in a temporary folder; the commands are those of the guide, run from
that folder: check, train, test with pictures, mmseg's inference API, mmseg's own
browse_dataset.py.
"""
import glob
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmseg_expres.datasets.demo_data.segmentation import CUSTOM_CLASSES, make_custom

from .seg_runs import REPO, tool

#: The user's whole config (docs/custom_data.md, "The CPU walk-through the test runs").
USER_CONFIG = """\
_base_ = ['mmseg_expres::demo/expres_vit-demo_upernet_1xb4-300it_custom-128x128.py']
data_root = {data_root!r}
classes = 'classes.txt'
model = dict(backbone=dict(pretrained={vit!r}))
train_cfg = dict(max_iters=4, val_interval=4)
"""


def run(args, cwd, check=True, env=None):
    """A tool as the user runs it from their own folder."""
    cmd = [sys.executable, *args]
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, OMP_NUM_THREADS='1', **(env or {})))
    if check and result.returncode != 0:
        raise AssertionError(f'{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


@pytest.fixture(scope='module')
def user(tmp_path_factory):
    """The user's folder: data, the demo ViT (written from this folder), their config."""
    home = tmp_path_factory.mktemp('user')
    assert not str(home).startswith(str(REPO))
    env = {'MMSEG_EXPRES_CACHE': str(home / 'cache')}
    # the guide's first command, from the user's folder (its default --config included)
    run([tool('make_demo_assets.py'), '--custom', '--out', 'demo', '--num-train', '6',
         '--num-val', '2'], cwd=home, env=env)
    data = str(home / 'demo' / 'my_dataset')
    assert (home / 'demo' / 'my_dataset' / 'classes.txt').read_text().split() == \
        list(CUSTOM_CLASSES)
    config = home / 'my_config.py'
    config.write_text(USER_CONFIG.format(data_root=data, vit=str(home / 'demo' / 'vit_demo.pth')))
    assert len(config.read_text().splitlines()) <= 5
    work = home / 'work'
    trained = run([tool('train.py'), 'my_config.py', '--work-dir', str(work)],
                  cwd=home, env=env)
    return dict(home=home, data=data, config=str(config), work=work, env=env,
                log=trained.stdout + trained.stderr)


def in_process(script: str, *args: str) -> int:
    """A tool's ``main`` in this process (saves a start-up), as ``python script args``."""
    import runpy
    from unittest import mock
    with mock.patch.object(sys, 'argv', [script, *args]):
        return runpy.run_path(script)['main']()


def test_checker_passes_the_data_set_and_prints_the_class_table(user, capsys, monkeypatch):
    result = run([tool('check_seg_data.py'), 'my_config.py'], cwd=user['home'],
                 env=user['env'])
    assert 'OK: 8 image/mask pairs' in result.stdout
    for name in CUSTOM_CLASSES:
        assert f' {name} ' in result.stdout
    monkeypatch.chdir(user['home'])
    assert in_process(tool('check_seg_data.py'), 'demo/my_dataset', '--num-classes', '4',
                      '--nproc', '1') == 0
    assert 'OK: 8 image/mask pairs' in capsys.readouterr().out
    assert in_process(tool('make_demo_assets.py'), '--vit-only', '--out', 'vit_only') is None
    assert sorted(os.listdir(user['home'] / 'vit_only')) == ['vit_demo.pth']


def test_training_derives_four_classes_and_writes_a_task_checkpoint(user):
    assert "4 classes ['wall', 'building', 'sky', 'tree']" in user['log']
    assert 'Iter(val)' in user['log'] and 'mIoU' in user['log']
    dumped = (user['work'] / 'my_config.py').read_text()
    assert "classes = [\n    'wall',\n    'building'," in dumped  # no classes.txt needed
    assert "metainfo=dict(classes=(\n            'wall'," in dumped
    assert osp.isfile(user['work'] / 'iter_4.pth')


def test_test_tool_draws_pictures_and_inference_api_runs(user):
    from mmseg.apis import inference_model, init_model
    home, work = user['home'], user['work']
    result = run([tool('test.py'), 'my_config.py', str(work / 'iter_4.pth'), '--work-dir',
                  str(home / 'test'), '--show-dir', str(home / 'vis')], cwd=home,
                 env=user['env'])
    assert 'mIoU' in result.stdout + result.stderr
    assert glob.glob(str(home / 'vis' / '**' / '*.png'), recursive=True)
    # The config the run dumped holds every derived field: mmseg's API reads it as it is.
    model = init_model(str(work / 'my_config.py'), str(work / 'iter_4.pth'), device='cpu')
    assert model.decode_head.conv_seg.out_channels == 4
    assert tuple(model.dataset_meta['classes']) == CUSTOM_CLASSES
    image = sorted(glob.glob(osp.join(user['data'], 'images', 'validation', '*.jpg')))[0]
    pred = inference_model(model, image).pred_sem_seg.data
    assert pred.shape == (1, 64, 80) and int(pred.max()) < 4


def test_export_creates_its_folder(user):
    out = user['home'] / 'exports' / 'deep' / 'full.pth'
    run([tool('export_full_checkpoint.py'), str(user['work'] / 'my_config.py'),
         str(user['work'] / 'iter_4.pth'), str(out)], cwd=user['home'], env=user['env'])
    assert out.stat().st_size > 0 and (out.parent / 'full.py').is_file()


def test_mmsegs_browse_dataset_tool_runs_with_the_pinned_opencv(user):
    """mmseg issue 3405: browse_dataset.py hands OpenCV a planar array that no OpenCV on
    numpy 2 draws on; the configs' ContiguousSegLocalVisualizer copies it first, on the
    OpenCV that requirements/runtime.txt pins."""
    import cv2
    assert cv2.__version__ == '4.14.0'  # requirements/runtime.txt
    import mmseg
    script = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'analysis_tools',
                      'browse_dataset.py')
    out = user['home'] / 'browse'
    run([script, str(user['work'] / 'my_config.py'), '--output-dir', str(out),
         '--not-show'], cwd=user['home'], env=dict(user['env'], PYTHONPATH=os.pathsep.join(
             filter(None, [str(REPO), os.environ.get('PYTHONPATH')]))))
    assert len(glob.glob(str(out / '*'))) == 6


def test_a_bad_validation_mask_stops_training_before_the_first_iteration(user, tmp_path):
    data = make_custom(str(tmp_path / 'data'), num_train=4, num_val=2, size=(32, 32))
    Image.fromarray(np.full((32, 32), 6, np.uint8)).save(
        osp.join(data, 'annotations', 'validation', 'validation_0001.png'))
    options = ['--cfg-options', f'data_root={data}', 'train_cfg.max_iters=2',
               'train_cfg.val_interval=2']
    result = run([tool('train.py'), user['config'], '--work-dir', str(tmp_path / 'w'),
                  *options], cwd=user['home'], check=False, env=user['env'])
    assert result.returncode != 0 and 'Iter(train)' not in result.stdout + result.stderr
    assert 'validation_0001.png: label values [6] outside [0, 4)' in result.stderr
    unchecked = run([tool('train.py'), user['config'], '--work-dir', str(tmp_path / 'w2'),
                     '--no-data-check', *options], cwd=user['home'], check=False,
                    env=user['env'])
    log = unchecked.stdout + unchecked.stderr
    assert 'Iter(train)' in log and 'label values [6] outside [0, 4)' in log


def test_colour_masks_convert_and_unknown_colours_are_refused(tmp_path, capsys, monkeypatch):
    palette = tmp_path / 'classes.txt'
    palette.write_text('wall 200 190 160\nsky #5a96e6\n')
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:2] = (200, 190, 160)
    rgb[2:] = (90, 150, 230)
    (tmp_path / 'in').mkdir()
    Image.fromarray(rgb).save(tmp_path / 'in' / 'a.png')
    converter = osp.join(REPO, 'tools', 'dataset_converters', 'colour_masks_to_labels.py')
    monkeypatch.chdir(tmp_path)
    assert in_process(converter, 'in', 'out', '--palette', str(palette)) == 0
    labels = Image.open(tmp_path / 'out' / 'a.png')
    assert labels.mode == 'P' and np.asarray(labels).tolist() == [[0] * 6] * 2 + [[1] * 6] * 2
    rgb[0, :3] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / 'in' / 'b.png')
    assert in_process(converter, 'in', 'out2', '--palette', str(palette)) == 1
    assert '(1, 2, 3): 3' in capsys.readouterr().out
    assert not (tmp_path / 'out2' / 'b.png').exists()
    # the converted masks pass the checker's channel and label checks
    from mmseg_expres.datasets.segmentation.label_check import read_pair
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / 'img.jpg')
    result = read_pair((str(tmp_path / 'img.jpg'), str(tmp_path / 'out' / 'a.png'), True))
    assert result['channels'] == 1 and result['counts'] == {0: 12, 1: 12}


CONVERTER = osp.join(REPO, 'tools', 'dataset_converters', 'colour_masks_to_labels.py')


def test_colour_converter_maps_void_colours_to_255_and_skips_its_output_inside_input(
        tmp_path, monkeypatch):
    (tmp_path / 'masks').mkdir()
    (tmp_path / 'classes.txt').write_text('wall 200 190 160\nsky #5a96e6\n')
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:2] = (200, 190, 160)
    rgb[2:] = (90, 150, 230)
    rgb[3, :2] = (0, 0, 0)  # void: unlabelled
    Image.fromarray(rgb).save(tmp_path / 'masks' / 'a.png')
    monkeypatch.chdir(tmp_path)
    args = ('masks', 'masks/labels', '--palette', 'classes.txt', '--ignore-colour', '0,0,0')
    assert in_process(CONVERTER, *args) == 0
    labels = np.asarray(Image.open(tmp_path / 'masks' / 'labels' / 'a.png'))
    assert labels.tolist() == [[0] * 6] * 2 + [[1] * 6, [255, 255] + [1] * 4]
    # a second run must not read its own output (a palette PNG of 0, 1, 255) as input
    assert in_process(CONVERTER, *args) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*.png'))
    assert written == ['masks/a.png', 'masks/labels/a.png']


def test_colour_converter_refuses_more_colours_than_a_label_map_holds(tmp_path, monkeypatch,
                                                                     capsys):
    (tmp_path / 'in').mkdir()
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / 'in' / 'a.png')
    (tmp_path / 'p.txt').write_text(''.join(f'c{i} {i // 256} {i % 256} 7\n' for i in range(300)))
    monkeypatch.chdir(tmp_path)
    assert in_process(CONVERTER, 'in', 'out', '--palette', 'p.txt') == 2
    assert 'The palette has 300 colours' in capsys.readouterr().err  # today: 300 -> 44
    assert not (tmp_path / 'out').exists()
    assert in_process(CONVERTER, 'in', 'out', '--palette', 'p.txt', '--ignore-colour',
                      '1,2') == 2
    assert '--ignore-colour 1,2: give the colour as R,G,B' in capsys.readouterr().err
