"""tools/infer.py and tools/export_full_checkpoint.py on a user's own custom-data config
and a PEFT task checkpoint, through the one model loader (apis.init_model).

Before the one loader, both built the template's placeholder heads (the custom-data
runner's variables were never resolved) and dropped ``pretrained`` for any checkpoint
with a ``backbone.vit.`` key, which every LoRA, SSF, AdaptFormer and bias-tuning task
checkpoint has.
"""
import numpy as np
import pytest
import torch
from PIL import Image

from ..test_apis.test_model_loading import trained_task_checkpoint, write_user_config
from .test_infer import run_in_process


@pytest.fixture(scope='module')
def lora(tmp_path_factory):
    folder = tmp_path_factory.mktemp('user')
    config = write_user_config(folder, 'lora')
    trained_task_checkpoint(config, str(folder / 'task.pth'))
    rgb = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / 'photo.png')
    return folder, config


def test_infer_runs_a_lora_task_checkpoint_on_the_users_config(lora, capsys):
    folder, config = lora
    status, out, err = run_in_process('infer.py', [
        config, str(folder / 'task.pth'), str(folder / 'photo.png'), '--out-dir',
        str(folder / 'out'), '--no-progress'], capsys)
    assert status == 0, out + err
    pred = np.asarray(Image.open(folder / 'out' / 'photo_pred.png'))
    assert pred.shape == (40, 48) and pred.max() < 4


def test_export_then_infer_without_the_vit_file(lora, tmp_path, capsys):
    folder, config = lora
    full = str(tmp_path / 'full.pth')
    status, out, err = run_in_process('export_full_checkpoint.py',
                                      [config, str(folder / 'task.pth'), full], capsys)
    assert status == 0, out + err
    exported = (tmp_path / 'full.py').read_text()
    assert "'sky'" in exported and 'num_classes=4' in exported
    state = torch.load(full, weights_only=True)
    assert state['meta']['task_checkpoint'] is False
    assert 'backbone.vit.pos_embed' in state['state_dict']
    status, out, err = run_in_process('infer.py', [
        str(tmp_path / 'full.py'), full, str(folder / 'photo.png'), '--out-dir',
        str(tmp_path / 'out'), '--no-progress', '--cfg-options',
        f'model.backbone.pretrained={tmp_path / "gone.pth"}'], capsys)
    assert status == 0, out + err
    assert run_in_process('infer.py', [
        config, str(folder / 'task.pth'), str(folder / 'photo.png'), '--out-dir',
        str(tmp_path / 'task_out'), '--no-progress'], capsys)[0] == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / 'out' / 'photo_pred.png')),
                          np.asarray(Image.open(tmp_path / 'task_out' / 'photo_pred.png')))


def test_export_refuses_to_overwrite_the_config_it_reads(lora, capsys):
    folder, config = lora
    before = open(config).read()
    status, _, _ = run_in_process('export_full_checkpoint.py', [
        config, str(folder / 'task.pth'), config[:-3] + '.pth'], capsys)
    assert status != 0 and 'would overwrite' in str(status)
    assert open(config).read() == before
    assert not (folder / 'my_lora.pth').exists()
