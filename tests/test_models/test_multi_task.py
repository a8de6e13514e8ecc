"""MultiTaskExpres: one image path, many tasks, each task's answer as if run alone."""
import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.models import ExpresTask, MultiTaskExpres, task_attention_mask

from ..conftest import build_tiny

# (K, sites, residual layers, readout): tasks deliberately differ in all four
TASKS = [(2, ('ln', 'q', 'k', 'v', 'proj'), None, 'mean'),
         (3, ('q', 'mlp'), (1, 3), 'concat'),
         (1, ('v',), (0,), 'mean'),
         (2, ('ln2',), None, 'concat')]


def _task_models(shared, tasks=TASKS):
    """Single-task ExpresViTs on the shared ViT weights, random prompts, linear heads."""
    models = []
    for num_tokens, sites, layers, readout in tasks:
        model = build_tiny(num_tokens=num_tokens, residual_sites=sites, residual_layers=layers,
                           visibility='one_way', readout=readout, out_indices=())
        model.vit.load_state_dict(shared.vit.state_dict())
        with torch.no_grad():
            for param in model.prompts.parameters():
                param.normal_(0, 0.5)
        head = torch.nn.Linear(32 * num_tokens if readout == 'concat' else 32, 5)
        models.append((model, head))
    return models


@pytest.mark.parametrize('alone_with_grad', [False, True])
def test_predictions_equal_each_task_run_alone(images, alone_with_grad):
    # a task alone runs its rows together without autograd, split with it: compare both
    shared = build_tiny(num_tokens=1, visibility='one_way', out_indices=(), readout='mean')
    models = _task_models(shared)
    multi = MultiTaskExpres(shared, [ExpresTask.from_model(m, h) for m, h in models])
    outs = multi(images)
    assert len(outs) == len(models)
    with torch.set_grad_enabled(alone_with_grad):
        for out, (model, head) in zip(outs, models):
            assert_close(out, head(model(images)[-1]).detach())


def test_mask_lets_tasks_see_image_and_only_their_own_tokens():
    mask = task_attention_mask(3, [2, 1])
    expected = torch.tensor([[1, 1, 1, 1, 1, 0],
                             [1, 1, 1, 1, 1, 0],
                             [1, 1, 1, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_a_task_does_not_change_another(images):
    shared = build_tiny(num_tokens=1, visibility='one_way', out_indices=(), readout='mean')
    models = _task_models(shared)
    multi = MultiTaskExpres(shared, [ExpresTask.from_model(m, h) for m, h in models])
    before = multi(images)
    with torch.no_grad():
        models[1][0].prompts.tokens.normal_()  # shared by reference with ``multi``
    after = multi(images)
    assert torch.isfinite(after[1]).all() and not torch.allclose(before[1], after[1])
    for index in (0, 2, 3):
        assert_close(before[index], after[index])


def test_rejects_fine_tuned_backbone_and_wrong_width():
    tuned = build_tiny(num_tokens=0, residual_sites=(), frozen=False)
    task = ExpresTask(build_tiny(num_tokens=2).prompts)
    with pytest.raises(ValueError, match='frozen'):
        MultiTaskExpres(tuned, [task])
    from mmseg_expres.models.backbones.expres_prompts import ExpresPrompts
    wide = ExpresTask(ExpresPrompts(2, 64, ('q',), (0,), 'xavier', 8))
    with pytest.raises(ValueError, match='width'):
        MultiTaskExpres(build_tiny(num_tokens=2), [wide])


def test_refuses_tasks_whose_prompts_could_not_change_their_answer():
    """A class-token readout never sees one-way prompts; full-visibility prompts were
    trained to shape the image rows, which the shared one-way image path does not let."""
    shared = build_tiny(num_tokens=1, visibility='one_way', out_indices=(), readout='mean')
    with pytest.raises(ValueError, match=r"task 0: readout='cls'.*token readout"):
        MultiTaskExpres(shared, [ExpresTask(build_tiny(num_tokens=2).prompts, readout='cls')])
    with pytest.raises(ValueError, match=r"visibility='full'.*visibility='one_way'"):
        ExpresTask.from_model(build_tiny(num_tokens=2, readout='mean'))


# ---------------------------------------------------------------- mixed-task batches
from mmseg_expres.models.backbones.frozen_vit import sharing_vit  # noqa: E402
from mmseg_expres.models.multi_task_batch import mixed_task_forward  # noqa: E402

from ..conftest import TINY_VIT  # noqa: E402

ALL_SITES = ('ln', 'q', 'k', 'v', 'proj', 'ln2', 'mlp')
#: backbone type -> settings of its tasks (every output they have: maps, tokens, readout)
MIXED = {
    'expres_full': ('ExpresViT', dict(num_tokens=3, residual_sites=ALL_SITES,
                                      residual_layers=(0, 2, 3), visibility='full',
                                      output_tokens=True, readout='mean')),
    'expres_one_way': ('ExpresViT', dict(num_tokens=3, residual_sites=ALL_SITES,
                                         visibility='one_way', readout='concat')),
    'expres_one_way_last_block_tokens_only': ('ExpresViT', dict(
        num_tokens=2, residual_sites=('q', 'v'), visibility='one_way', readout='mean',
        out_indices=(1,))),
    # residuals on every row (residual_scope='all'): (B, 1, d) per sample
    'expres_full_every_row': ('ExpresViT', dict(num_tokens=3, residual_scope='all',
                                                residual_sites=ALL_SITES, visibility='full',
                                                readout='mean')),
    'expres_one_way_every_row': ('ExpresViT', dict(num_tokens=2, residual_scope='all',
                                                   visibility='one_way', readout='mean')),
    'vpt_deep': ('VPTViT', dict(num_tokens=3, mode='deep', output_tokens=True,
                                readout='cls')),
    'vpt_shallow': ('VPTViT', dict(num_tokens=2, mode='shallow', readout='mean')),
}


def _tasks_on_one_vit(kind: str, count: int):
    """``count`` backbones of one config on one shared ViT, each with its own prompts."""
    from mmseg_expres.models import ExpresViT, VPTViT
    cls = {'ExpresViT': ExpresViT, 'VPTViT': VPTViT}[MIXED[kind][0]]
    settings = dict(TINY_VIT, out_indices=(1, 3))
    settings.update(MIXED[kind][1])
    first = cls(**settings)
    backbones = [first]
    with sharing_vit(first.vit):
        backbones += [cls(**settings) for _ in range(count - 1)]
    for backbone in backbones:
        assert backbone.vit is first.vit
        with torch.no_grad():
            for name, param in backbone.named_parameters():
                if not name.startswith('vit.'):
                    param.normal_(0, 0.5)
        backbone.eval()
    return backbones


@pytest.mark.parametrize('kind', sorted(MIXED))
@pytest.mark.parametrize('num_tasks', [1, 2, 3, 4])
def test_mixed_batch_equals_each_task_alone(kind, num_tasks):
    backbones = _tasks_on_one_vit(kind, num_tasks)
    sample_task = torch.tensor([3, 0, 1, 1, 2, 0, 3, 2])[:8] % num_tasks
    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    mixed = mixed_task_forward(backbones, sample_task, images)
    with torch.no_grad():
        for index, task in enumerate(sample_task.tolist()):
            alone = backbones[task](images[index:index + 1])
            assert len(alone) == len(mixed)
            for ours, theirs in zip(mixed, alone):
                assert_close(ours[index:index + 1], theirs)


def test_tasks_differ_in_a_mixed_batch():
    """The gather is per sample: the same image answers differently for two tasks."""
    backbones = _tasks_on_one_vit('expres_full', 2)
    images = torch.randn(1, 3, 32, 32).expand(2, -1, -1, -1)
    maps = mixed_task_forward(backbones, torch.tensor([0, 1]), images)[0]
    assert not torch.allclose(maps[0], maps[1])


def test_mixed_batch_refuses_tasks_that_cannot_share_it():
    backbones = _tasks_on_one_vit('expres_full', 2)
    images = torch.randn(2, 3, 32, 32)
    own_vit = build_tiny(**MIXED['expres_full'][1])
    with pytest.raises(ValueError, match="task 'b' has its own ViT"):
        mixed_task_forward([backbones[0], own_vit], torch.tensor([0, 1]), images, ['a', 'b'])
    with sharing_vit(backbones[0].vit):
        other_k = build_tiny(**dict(MIXED['expres_full'][1], num_tokens=2))
    with pytest.raises(ValueError, match="task 'b' has prompts laid out as.*same backbone"):
        mixed_task_forward([backbones[0], other_k], torch.tensor([0, 1]), images, ['a', 'b'])
    with pytest.raises(ValueError, match='one task per image'):
        mixed_task_forward(backbones, torch.tensor([0, 1, 1]), images)
