"""LoRA tasks on one frozen ViT, each a peft adapter named after its task: every sample of
a mixed batch (peft's ``adapter_names=``) and every task run alone equal that task's own
model, the tasks hold one ViT, and what cannot share the ViT or the batch is refused."""
import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.engine import strip_frozen
from mmseg_expres.models.backbones.frozen_vit import sharing_vit
from mmseg_expres.models.backbones.lora import delete_lora_adapter, lora_adapters
from mmseg_expres.models.multi_task_batch import check_mixable, mixed_task_forward

from ..conftest import build_tiny
from .test_backbones.test_peft_vit import build_peft, perturb_

#: maps of blocks 1 and 3 and the class-token readout; LoRA on two layers of each block
SETTINGS = dict(readout='cls', lora_targets=('qkv', 'fc1'))
NAMES = ('ade', 'city', 'voc', 'coco')


def trained_models(count: int):
    """``count`` LoRA backbones, each on its own copy of one "pretrained" ViT, with
    adapters trained apart (random), as ``init_model`` builds a task alone."""
    models = []
    for index in range(count):
        torch.manual_seed(0)  # the same ViT
        model = build_peft('lora', **SETTINGS).eval()
        torch.manual_seed(10 + index)
        perturb_(model)
        models.append(model)
    return models


def on_one_vit(models):
    """The task checkpoints of ``models`` loaded onto one ViT, as init_multi_task does."""
    torch.manual_seed(0)
    vit = build_peft('lora', **SETTINGS).vit
    delete_lora_adapter(vit, 'default')  # the config's untrained adapter
    backbones = []
    for model, name in zip(models, NAMES):
        with sharing_vit(vit, name):
            backbone = build_peft('lora', **SETTINGS).eval()
        backbone.load_state_dict(strip_frozen(model.state_dict(), model), strict=True)
        backbones.append(backbone)
    return backbones


@pytest.mark.parametrize('num_tasks', [1, 2, 3, 4])
def test_mixed_batch_and_each_task_alone_equal_the_tasks_own_models(num_tasks):
    models = trained_models(num_tasks)
    backbones = on_one_vit(models)
    assert lora_adapters(backbones[0].vit) == set(NAMES[:num_tasks])
    sample_task = torch.tensor([3, 0, 1, 1, 2, 0, 3, 2]) % num_tasks
    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    mixed = mixed_task_forward(backbones, sample_task, images, NAMES[:num_tasks])
    assert len(mixed) == 3  # two maps and the readout
    with torch.no_grad():
        for index, task in enumerate(sample_task.tolist()):
            image = images[index:index + 1]
            own = models[task](image)  # peft's plain path, its ViT holding one adapter
            alone = backbones[task](image)  # on the shared ViT, its adapter alone
            for ours, single, theirs in zip(mixed, alone, own):
                assert_close(ours[index:index + 1], theirs)
                assert_close(single, theirs)


def test_tasks_hold_one_vit_and_differ_per_sample():
    models = trained_models(3)
    backbones = on_one_vit(models)
    vit = backbones[0].vit
    assert all(b.vit is vit for b in backbones)
    params = {id(p): p for b in backbones for p in b.parameters()}
    adapter = models[0].num_trainable_params()[0]
    plain = sum(p.numel() for n, p in models[0].vit.named_parameters() if '.lora_' not in n)
    assert sum(p.numel() for p in params.values()) == plain + 3 * adapter
    # each task's own tensors are its adapter's only; the others' leave its fingerprint
    for backbone, name in zip(backbones, NAMES):
        assert {k.split('.')[-2] for k in backbone.trainable_vit_keys()} == {name}
        assert torch.equal(backbone.frozen_fingerprint(), models[0].frozen_fingerprint())
    image = torch.randn(1, 3, 32, 32).expand(2, -1, -1, -1)
    readout = mixed_task_forward(backbones[:2], torch.tensor([0, 1]), image)[-1]
    assert not torch.allclose(readout[0], readout[1])


def test_what_cannot_share_the_vit_or_the_batch_is_refused():
    backbones = on_one_vit(trained_models(2))
    vit, images = backbones[0].vit, torch.randn(2, 3, 32, 32)
    with sharing_vit(vit, 'prompts'):
        expres = build_tiny(num_tokens=2, readout='cls')
    with pytest.raises(ValueError, match=r"task 'prompts' is a ExpresViT task, task 'ade' "
                       r'a PeftViT \(lora\) one.*separate batches'):
        mixed_task_forward([backbones[0], expres], torch.tensor([0, 1]), images,
                           ['ade', 'prompts'])
    with pytest.raises(ValueError, match="LoRA adapter 'ade' serves two tasks"):
        check_mixable([backbones[0], backbones[0]], ['ade', 'again'])
    with pytest.raises(ValueError, match=r"task 'af': a PeftViT \(adaptformer\) backbone "
                       'cannot share a batch'):
        check_mixable([build_peft('adaptformer')], ['af'])
    for method, merged in (('adaptformer', False), ('ssf', False), ('lora', True)):
        shown = method + (' merged' if merged else '')
        with sharing_vit(vit, 'af'), pytest.raises(ValueError,
                                                   match=f"Task 'af': {shown} cannot share"):
            build_peft(method, merged=merged)
    for name in ('city', '__base__', 'a.b'):  # loaded already; peft's "no adapter"; a dot
        with sharing_vit(vit, name), pytest.raises(ValueError,
                                                   match=f'Task {name!r} cannot name a LoRA'):
            build_peft('lora', **SETTINGS)
    with pytest.raises(ValueError, match=r"No LoRA adapter 'voc' in this ViT"):
        backbones[0].forward_adapters(images, ['ade', 'voc'])
    with pytest.raises(ValueError, match="holds other tasks' LoRA adapters too"):
        backbones[0].merge_()
