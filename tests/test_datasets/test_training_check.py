"""The pre-training data check reports every bad file of every split in one round, with
its fix: the layout problems, a truncated JPEG and a colour mask (whose converter command
runs as printed, from any folder)."""
import os
import os.path as osp
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmseg_expres.apis import load_config
from mmseg_expres.datasets.demo_data.segmentation import make_custom
from mmseg_expres.datasets.segmentation.check_report import (DataCheckError,
                                                             check_before_training,
                                                             passed_line)

TEMPLATE = str(Path(__file__).resolve().parents[2] / 'configs' / 'expres' /
               'expres_vit-b16_upernet_8xb2-80k_custom-512x512.py')
SIZE = (24, 32)  # h, w


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMSEG_EXPRES_CACHE', str(tmp_path / 'cache'))


def plant_defects(data: str) -> dict:
    """The six defects of a user's first data set, one file each; kind -> file."""
    def path(*parts):
        return osp.join(data, *parts)
    size = np.asarray(Image.open(path('annotations', 'training', 'training_0000.png'))).shape
    label = np.zeros(size, np.uint8)
    label[:3] = 7
    Image.fromarray(label).save(path('annotations', 'training', 'training_0000.png'))
    colour = np.zeros((*size, 3), np.uint8)
    colour[..., 0] = 200
    colour[:, :5] = (10, 200, 10)
    Image.fromarray(colour).save(path('annotations', 'training', 'training_0001.png'))
    os.remove(path('annotations', 'training', 'training_0002.png'))
    jpeg = path('images', 'training', 'training_0003.jpg')
    content = Path(jpeg).read_bytes()
    Path(jpeg).write_bytes(content[:len(content) // 2])  # header intact, pixels cut off
    Image.fromarray(np.zeros((size[0] // 2, size[1] // 2), np.uint8)).save(
        path('annotations', 'validation', 'validation_0000.png'))
    os.remove(path('images', 'validation', 'validation_0001.jpg'))
    return {'label out of range': path('annotations', 'training', 'training_0000.png'),
            'colour mask': path('annotations', 'training', 'training_0001.png'),
            'image without mask': path('images', 'training', 'training_0002.jpg'),
            'undecodable image': jpeg,
            'size mismatch': path('annotations', 'validation', 'validation_0000.png'),
            'mask without image': path('annotations', 'validation', 'validation_0001.png')}


def test_every_defect_is_in_one_message_with_its_fix_and_the_checker(tmp_path):
    data = make_custom(str(tmp_path / 'data'), num_train=5, num_val=2, size=SIZE)
    cfg = load_config(TEMPLATE, {'data_root': data})
    assert 'Data check passed: 7 image/mask pairs (train 5, val 2); 7 pair(s) read' in \
        passed_line(check_before_training(cfg, nproc=1))
    planted = plant_defects(data)
    with pytest.raises(DataCheckError) as caught:
        check_before_training(cfg, nproc=1)
    message = str(caught.value)
    assert 'has 6 problem(s)' in message
    for kind, path in planted.items():
        assert f'{kind}: 1 file(s)\n  {path}: ' in message
    assert f'{planted["undecodable image"]}: cannot decode: OSError' in message
    checker = osp.join(Path(__file__).resolve().parents[2], 'tools', 'check_seg_data.py')
    assert f'check again with python {checker} {osp.abspath(TEMPLATE)}' in message
    # a second run reads only what changed (nothing): the problems come from the cache
    with pytest.raises(DataCheckError) as again:
        check_before_training(cfg, nproc=1)
    assert str(again.value) == message


def test_the_colour_mask_fix_runs_as_printed_from_another_folder(tmp_path, monkeypatch):
    """A data set of colour masks: the printed command turns them back into the labels."""
    data = make_custom(str(tmp_path / 'data'), num_train=2, num_val=1, size=SIZE)
    colours = np.zeros((256, 3), np.uint8)  # 255 (ignored): black, a void colour
    colours[:4] = [[200, 0, 0], [10, 200, 10], [0, 0, 250], [90, 90, 90]]
    folder = osp.join(data, 'annotations', 'training')
    labels = {}
    for name in sorted(os.listdir(folder)):
        labels[name] = np.asarray(Image.open(osp.join(folder, name)))
        Image.fromarray(colours[labels[name]]).save(osp.join(folder, name))
    cfg = load_config(TEMPLATE, {'data_root': data})
    with pytest.raises(DataCheckError) as caught:
        check_before_training(cfg, nproc=1)
    first = osp.join(folder, sorted(labels)[0])
    line = next(x for x in str(caught.value).splitlines() if x.startswith(f'  {first}: '))
    command = line[line.index('`python ') + 1:line.index('` (PALETTE')]
    palette = tmp_path / 'palette.txt'
    palette.write_text(''.join(f'c{i} {r} {g} {b}\n' for i, (r, g, b) in enumerate(colours[:4])))
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    args = shlex.split(command.replace('PALETTE', str(palette))) + ['--ignore-colour', '0,0,0']
    assert args[0] == 'python' and osp.isabs(args[1])
    subprocess.run([sys.executable, *args[1:]], check=True, capture_output=True)
    for name, expected in labels.items():
        converted = np.asarray(Image.open(osp.join(data, 'annotations', 'training_labels',
                                                   name)))
        assert np.array_equal(converted, expected)
