"""tools/infer.py --tasks: two task checkpoints trained on different generated data sets
on one frozen ViT; every output file equal to infer.py's with that checkpoint alone, and
bad input refused before anything is written."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_expres.apis import init_model
from mmseg_expres.datasets.demo_data.segmentation import draw_scene
from mmseg_expres.engine.task_checkpoint_hook import strip_frozen

from .seg_runs import ADE_CONFIG, write_tiny_config, write_tiny_vit
from .task_models import write_two_tasks
from .test_infer import run_in_process


@pytest.fixture(scope='module')
def two(tmp_path_factory):
    return write_two_tasks(tmp_path_factory.mktemp('two_tasks'))


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """A scene, and a folder of two scenes of other sizes."""
    root = tmp_path_factory.mktemp('scenes')
    (root / 'street').mkdir()
    for i, (path, size) in enumerate((('room.png', (40, 48)), ('street/a.png', (36, 52)),
                                      ('street/b.jpg', (48, 40)))):
        Image.fromarray(draw_scene(np.random.default_rng(70 + i), size)[0]).save(root / path)
    return root


def files(folder: Path) -> dict:
    """Every output file under ``folder`` by its relative path: PNGs as (pixels, palette)."""
    out = {}
    for path in sorted(folder.rglob('*.png')):
        image = Image.open(path)
        out[str(path.relative_to(folder))] = (np.asarray(image), image.getpalette())
    return out


def infer(argv: list, capsys) -> tuple:
    return run_in_process('infer.py', [*argv, '--no-progress'], capsys)


def test_every_task_on_every_input_equals_each_checkpoint_alone(two, inputs, tmp_path,
                                                                capsys):
    scenes = [str(inputs / 'room.png'), str(inputs / 'street')]
    status, out, err = infer([two.config, '--tasks', two.task_arg('ade'), two.task_arg('city'),
                              *scenes, '--out-dir', str(tmp_path / 'multi'),
                              '--batch-size', '2'], capsys)
    assert status == 0, out + err
    assert 'Task ade: Segmented 3 image(s)' in out and 'Task city: Segmented 3' in out
    preds = {}
    for name in ('ade', 'city'):
        status, out, err = infer([*two.alone(name), *scenes, '--out-dir',
                                  str(tmp_path / name)], capsys)
        assert status == 0, out + err
        alone, multi = files(tmp_path / name), files(tmp_path / 'multi' / name)
        assert sorted(alone) == sorted(multi) == sorted(
            f'{stem}_{kind}.png' for stem in ('room', 'street/a', 'street/b')
            for kind in ('pred', 'overlay'))
        for path, (pixels, palette) in alone.items():
            np.testing.assert_array_equal(multi[path][0], pixels, err_msg=f'{name} {path}')
            assert multi[path][1] == palette
        preds[name] = alone['room_pred.png']
    # the two tasks answer differently, in their own data sets' colours
    assert not np.array_equal(preds['ade'][0], preds['city'][0])
    assert preds['ade'][1][:3 * 19] != preds['city'][1][:3 * 19]


def test_task_of_sends_each_input_to_its_task_only(two, inputs, tmp_path, capsys):
    out_dir = tmp_path / 'mapped'
    status, out, err = infer([two.config, '--tasks', two.task_arg('ade'), two.task_arg('city'),
                              '--task-of', f'{inputs / "street"}=city',
                              f'{inputs / "room.png"}=ade', '--out-dir', str(out_dir)],
                             capsys)
    assert status == 0, out + err
    assert sorted(files(out_dir / 'ade')) == ['room_overlay.png', 'room_pred.png']
    assert sorted(files(out_dir / 'city')) == [
        'street/a_overlay.png', 'street/a_pred.png', 'street/b_overlay.png',
        'street/b_pred.png']
    status, out, err = infer([*two.alone('city'), str(inputs / 'street'), '--out-dir',
                              str(tmp_path / 'city')], capsys)
    assert status == 0, out + err
    for path, (pixels, _) in files(tmp_path / 'city').items():
        np.testing.assert_array_equal(files(out_dir / 'city')[path][0], pixels)


def foreign_tasks(two, folder: Path) -> dict:
    """Task checkpoints that cannot join ``two``'s ViT: one trained on another ViT file,
    one of another tuning method (a LoRA tensor among its keys)."""
    folder.mkdir()
    vit = write_tiny_vit(str(folder / 'other_vit.pth'), seed=5)
    config = write_tiny_config(str(folder / 'other.py'), ADE_CONFIG, str(folder), vit)
    model = init_model(config)
    torch.save(dict(meta=dict(task_checkpoint=True),
                    state_dict=strip_frozen(model.state_dict(), model)), folder / 'vit5.pth')
    state = torch.load(two.ade, weights_only=True)
    state['state_dict']['backbone.vit.blocks.0.attn.qkv.lora_A.default.weight'] = \
        torch.zeros(4, 32)
    torch.save(state, folder / 'lora.pth')
    return dict(vit=str(folder / 'vit5.pth'), lora=str(folder / 'lora.pth'))


def test_bad_input_is_refused_and_nothing_written(two, inputs, tmp_path, capsys):
    foreign = foreign_tasks(two, tmp_path / 'foreign')
    out_dir = tmp_path / 'out'
    common = [two.config, str(inputs / 'room.png'), '--out-dir', str(out_dir)]
    cases = [
        (['--tasks', f'ade={two.ade}', f'ade={two.ade}'],
         "Task name 'ade' is given twice: give each task checkpoint its own name"),
        (['--tasks', two.task_arg('ade'), '--task-of', f'{inputs / "street"}=city'],
         "no task 'city'; --tasks gives ade"),
        (['--tasks', two.task_arg('ade'), f'other={foreign["vit"]}'],
         "Task 'other' .*fingerprint"),
        (['--tasks', two.task_arg('ade'), f'lora={foreign["lora"]}'],
         "Task 'lora' .*trained with LoRA"),
        (['--tasks', two.task_arg('ade'), '--support', 'a.png', 'b.png'],
         '--support is for one few-shot segmentor'),
        (['--task-of', f'{inputs / "room.png"}=ade'], '--task-of maps inputs .* give --tasks'),
        (['--tasks', 'ade=missing.pth'], "no checkpoint file missing.pth \\(task 'ade'\\)"),
    ]
    for extra, message in cases:
        status, _, err = infer(common + extra, capsys)
        assert status != 0 and re.search(message, f'{status} {err}'), (extra, status, err)
        assert not out_dir.exists(), extra
