"""apis.init_multi_task on LoRA task checkpoints (the baseline, through peft): one ViT,
each task's LoRA an adapter named after it, mixed batches and each task alone answering
as the task's checkpoint loaded on its own; other methods, ranks or targets refused."""
import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.apis import init_model
from mmseg_expres.apis.multi_task import inference_multi_task, init_multi_task
from mmseg_expres.models.backbones import CheckpointMismatchError
from mmseg_expres.models.backbones.lora import lora_adapters

from ..test_tools.infer_models import DEMO_SEG, ade_meta, write_demo_model
from .test_multi_task import other_task, pictures

TASKS = ('ade', 'city', 'voc')


def variant(folder, base: str, name: str, backbone: str) -> str:
    """A config ``base`` with ``backbone`` settings changed."""
    path = folder / f'{name}.py'
    path.write_text(f'_base_ = [{base!r}]\nmodel = dict(backbone=dict({backbone}))\n')
    return str(path)


@pytest.fixture(scope='module')
def lora_tasks(tmp_path_factory):
    """The demo UperNet with LoRA r=4 on its ViT (a random file), three task checkpoints,
    and the EXPRES demo config and task on the same ViT file."""
    folder = tmp_path_factory.mktemp('lora_multi')
    expres, expres_task = write_demo_model(folder, DEMO_SEG, ade_meta())
    config = variant(folder, expres, 'lora',
                     "type='PeftViT', method='lora', num_tokens=0, lora_rank=4")
    checkpoints = {name: other_task(config, folder / f'{name}.pth', seed, ade_meta())
                   for seed, name in enumerate(TASKS)}
    return folder, config, checkpoints, expres, expres_task


@pytest.fixture(scope='module')
def multi(lora_tasks):
    _, config, checkpoints, _, _ = lora_tasks
    return init_multi_task(config, checkpoints)


def test_lora_tasks_share_one_vit_and_answer_as_alone(lora_tasks, multi):
    from mmseg.apis import inference_model
    _, config, checkpoints, _, _ = lora_tasks
    vit = multi.vit
    assert all(multi.task(n).backbone.vit is vit for n in TASKS)
    assert lora_adapters(vit) == set(TASKS)  # the config's untrained adapter is gone
    # one ViT: its frozen weights once, each task's adapter, neck and heads beside them
    state = torch.load(checkpoints['ade'], weights_only=True)['state_dict']
    adapter = sum(v.numel() for k, v in state.items() if '.lora_' in k)
    plain = sum(p.numel() for n, p in vit.named_parameters() if '.lora_' not in n)
    per_task = sum(p.numel() for n, p in multi.task('ade').named_parameters()
                   if not n.startswith('backbone.vit.'))
    assert sum(p.numel() for p in multi.parameters()) == plain + 3 * (adapter + per_task)
    images = pictures(6)
    tasks = ['voc', 'ade', 'city', 'city', 'ade', 'voc']
    mixed = inference_multi_task(multi, images, tasks)
    for name in TASKS:
        own = init_model(config, checkpoints[name])  # the task's checkpoint on its own
        for image, task, result in zip(images, tasks, mixed):
            if task == name:
                expected = inference_model(own, image)
                logits = expected.seg_logits.data
                # GEMMs over a batch of 6 round otherwise than over 1 (here up to 5e-7 of
                # the logits' scale, which LoRA's large random updates make ~40)
                assert_close(result.seg_logits.data, logits,
                             atol=1e-5 * logits.abs().max().item(), rtol=0)
                assert torch.equal(result.pred_sem_seg.data, expected.pred_sem_seg.data)
                alone = inference_model(multi.task(name), image)
                assert_close(alone.seg_logits.data, logits)
    pair = inference_multi_task(multi, images[:1] * 2, ['ade', 'city'])
    assert not torch.allclose(pair[0].seg_logits.data, pair[1].seg_logits.data)


def test_lora_and_expres_tasks_are_refused_on_one_vit(lora_tasks):
    _, config, checkpoints, expres, expres_task = lora_tasks
    with pytest.raises(CheckpointMismatchError,
                       match=r"Task 'lora': its config builds another backbone.*"
                             r"type='PeftViT' \(shared: 'ExpresViT'\)"):
        init_multi_task(expres, {'prompts': expres_task,
                                 'lora': (config, checkpoints['ade'])})
    with pytest.raises(CheckpointMismatchError,
                       match=r"Task 'prompts' .*trained with EXPRES prompts.*with LoRA"):
        init_multi_task(config, {'ade': checkpoints['ade'], 'prompts': expres_task})


@pytest.mark.parametrize('setting, shown', [
    ('lora_rank=2', r'lora_rank=2 \(shared: 4\)'),
    ("lora_targets=('qkv', 'proj')", r"lora_targets=\('qkv', 'proj'\) \(shared: None\)")])
def test_a_lora_task_of_another_rank_or_targets_is_refused(lora_tasks, setting, shown):
    folder, config, checkpoints, _, _ = lora_tasks
    other = variant(folder, config, setting.partition('=')[0], setting)
    with pytest.raises(CheckpointMismatchError, match=rf"Task 'other': .*{shown}"):
        init_multi_task(config, {'ade': checkpoints['ade'],
                                 'other': (other, checkpoints['city'])})


def test_adaptformer_tasks_cannot_share_a_vit(lora_tasks):
    folder, config, _, _, _ = lora_tasks
    adapter = variant(folder, config, 'adaptformer', "method='adaptformer', adapter_dim=4")
    checkpoint = other_task(adapter, folder / 'af.pth', 0, ade_meta())
    with pytest.raises(ValueError, match="Task 'af': adaptformer cannot share its ViT"):
        init_multi_task(adapter, {'af': checkpoint})
