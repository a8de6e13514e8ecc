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
