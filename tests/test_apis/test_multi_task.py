"""apis.init_multi_task: task checkpoints on one frozen ViT, each answering as alone,
mixed batches of their images, and the refusals (name twice, another ViT or method,
inputs prepared differently, an unknown task)."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from torch.testing import assert_close

from mmseg_expres.apis import init_model
from mmseg_expres.apis.multi_task import inference_multi_task, init_multi_task
from mmseg_expres.engine.task_checkpoint_hook import strip_frozen
from mmseg_expres.models.backbones import CheckpointMismatchError

from ..test_tools.infer_models import DEMO_SEG, ade_meta, write_demo_model


def other_task(config: str, path, seed: int, meta: dict) -> str:
    """A second task checkpoint of ``config``: other prompts, neck and heads."""
    torch.manual_seed(seed)
    model = init_model(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad:
                param.normal_(0, 0.2)
    torch.save(dict(meta=dict(dataset_meta=meta, task_checkpoint=True),
                    state_dict=strip_frozen(model.state_dict(), model)), path)
    return str(path)


@pytest.fixture(scope='module')
def two_tasks(tmp_path_factory):
    folder = tmp_path_factory.mktemp('multi')
    config, ade = write_demo_model(folder, DEMO_SEG, ade_meta())
    meta = dict(ade_meta(), classes=tuple(f'thing{i}' for i in range(150)))
    return config, ade, other_task(config, folder / 'other.pth', 7, meta)


@pytest.fixture(scope='module')
def multi(two_tasks):
    config, ade, other = two_tasks
    return init_multi_task(config, {'ade': ade, 'other': other})


def pictures(count: int):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(count)]


def test_tasks_share_one_vit_and_answer_as_alone(two_tasks, multi):
    from mmseg.apis import inference_model
    config, ade, other = two_tasks
    vit = multi.vit
    assert all(multi.task(n).backbone.vit is vit for n in ('ade', 'other'))
    storages = {p.data_ptr() for p in multi.parameters()}
    per_task = sum(p.numel() for n, p in multi.task('other').named_parameters()
                   if not n.startswith('backbone.vit.'))
    assert sum(p.numel() for p in multi.parameters()) == \
        sum(p.numel() for p in vit.parameters()) + 2 * per_task
    assert len(storages) == len(list(multi.parameters()))
    assert multi.task('other').dataset_meta['classes'][0] == 'thing0'
    images = pictures(5)
    tasks = ['other', 'ade', 'ade', 'other', 'other']
    mixed = inference_multi_task(multi, images, tasks)
    for checkpoint, name in ((ade, 'ade'), (other, 'other')):
        alone = init_model(config, checkpoint)
        for image, task, result in zip(images, tasks, mixed):
            if task == name:
                expected = inference_model(alone, image)
                assert_close(result.seg_logits.data, expected.seg_logits.data)
                assert torch.equal(result.pred_sem_seg.data, expected.pred_sem_seg.data)
    # the two tasks answer differently on the same image: the gather is per sample
    pair = inference_multi_task(multi, images[:1] * 2, ['ade', 'other'])
    assert not torch.allclose(pair[0].seg_logits.data, pair[1].seg_logits.data)


def test_a_name_twice_and_an_unknown_task_are_refused(two_tasks, multi):
    config, ade, other = two_tasks
    with pytest.raises(ValueError, match="Task name 'ade' is given twice"):
        init_multi_task(config, [('ade', ade), ('ade', other)])
    with pytest.raises(ValueError, match=r"Unknown task 'city'.*loaded tasks are ade, other"):
        inference_multi_task(multi, pictures(2), ['ade', 'city'])


def test_another_vit_or_method_is_refused_before_loading(two_tasks, tmp_path):
    config, ade, other = two_tasks
    foreign = write_demo_model(tmp_path / 'vit3', DEMO_SEG, ade_meta(), vit_seed=3)[1]
    with pytest.raises(CheckpointMismatchError, match=r"Task 'city' .*fingerprint"):
        init_multi_task(config, {'ade': ade, 'city': foreign})
    state = torch.load(ade, weights_only=True)
    state['state_dict']['backbone.vit.blocks.0.attn.qkv.lora_A.default.weight'] = \
        torch.zeros(4, 96)
    lora = tmp_path / 'lora.pth'
    torch.save(state, lora)
    with pytest.raises(CheckpointMismatchError, match=r"Task 'lora' .*trained with LoRA"):
        init_multi_task(config, {'ade': ade, 'lora': str(lora)})


def test_tasks_prepared_differently_cannot_share_a_batch(two_tasks, tmp_path):
    config, ade, other = two_tasks
    grey = tmp_path / 'grey.py'
    grey.write_text(f'_base_ = [{config!r}]\n'
                    'model = dict(data_preprocessor=dict(mean=[0.0, 0.0, 0.0]))\n')
    small = tmp_path / 'small.py'
    small.write_text(f'_base_ = [{config!r}]\n'
                     "test_pipeline = [dict(type='LoadImageFromFile'), "
                     "dict(type='Resize', scale=(64, 64), keep_ratio=True), "
                     "dict(type='PackSegInputs')]\n")
    multi = init_multi_task(config, {'ade': ade, 'grey': (str(grey), other),
                                     'small': (str(small), other)})
    for name, part in (('grey', 'data_preprocessor'), ('small', 'test_pipeline')):
        with pytest.raises(ValueError, match=rf"Tasks 'ade' and '{name}' prepare their "
                           rf'inputs differently \({part}:.*separate batches'):
            inference_multi_task(multi, pictures(2), ['ade', name])
    assert len(inference_multi_task(multi, pictures(2), ['grey', 'grey'])) == 2


def test_another_backbone_config_is_refused(two_tasks, tmp_path):
    config, ade, other = two_tasks
    wider = tmp_path / 'k9.py'
    wider.write_text(f'_base_ = [{config!r}]\nmodel = dict(backbone=dict(num_tokens=9))\n')
    with pytest.raises(CheckpointMismatchError,
                       match=r"Task 'k9': .*num_tokens=9 \(shared: 5\)"):
        init_multi_task(config, {'ade': ade, 'k9': (str(wider), other)})
