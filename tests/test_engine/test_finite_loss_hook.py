"""FiniteLossHook in a real MMEngine run: the NaN iteration stops training unsaved."""
import os.path as osp

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmseg_expres.engine import FiniteLossHook, NonFiniteLossError
from mmseg_expres.utils.numeric import non_finite_losses


class LossAt(BaseModel):
    """A one-parameter model whose loss is ``bad`` from iteration ``at`` (1-based) on."""

    def __init__(self, at: int, bad: float) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.at, self.bad, self.calls = at, bad, 0

    def forward(self, inputs, mode='loss'):
        self.calls += 1
        loss = (self.weight * inputs).mean()
        if self.calls >= self.at:
            loss = loss * self.bad
        return dict(loss=loss, accuracy=torch.tensor(float('nan')))  # not a loss: ignored


def run(tmp_path, at: int, bad: float, hooks):
    runner = Runner(
        model=LossAt(at, bad), work_dir=str(tmp_path),
        train_dataloader=dict(dataset=[dict(inputs=torch.ones(1))] * 8, batch_size=1,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=5),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1)),
        custom_hooks=hooks, default_scope='mmengine')
    runner.train()
    return runner


def saved_weight(path) -> torch.Tensor:
    from mmseg_expres.utils.safe_load import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()  # MMEngine's checkpoints under weights_only=True
    return torch.load(path, map_location='cpu')['state_dict']['weight']


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_the_first_non_finite_loss_stops_training_before_it_is_saved(tmp_path, bad):
    with pytest.raises(NonFiniteLossError) as error:
        run(tmp_path, at=3, bad=bad, hooks=[dict(type='FiniteLossHook')])
    message = str(error.value)
    assert f'iteration 3: loss = {bad}' in message and 'accuracy' not in message
    assert 'resume from the checkpoint named in' in message
    assert osp.isfile(tmp_path / 'iter_2.pth') and not osp.exists(tmp_path / 'iter_3.pth')
    saved = saved_weight(tmp_path / 'iter_2.pth')
    assert torch.isfinite(saved).all()


def test_without_the_hook_mmengine_trains_on_and_saves_nan_weights(tmp_path):
    """What the hook prevents (so the test above can fail): MMEngine alone goes on."""
    runner = run(tmp_path, at=3, bad=float('nan'), hooks=[])
    assert runner.iter == 5 and osp.isfile(tmp_path / 'iter_5.pth')
    saved = saved_weight(tmp_path / 'iter_5.pth')
    assert torch.isnan(saved).all()


def test_only_losses_are_read_and_a_first_iteration_says_nothing_was_saved(tmp_path):
    assert non_finite_losses(dict(loss=torch.tensor(1.0), acc=float('nan'))) == {}
    assert non_finite_losses({'decode.loss_ce': torch.tensor([1.0, float('inf')])}) == {
        'decode.loss_ce': float('inf')}
    with pytest.raises(NonFiniteLossError, match='iteration 1: loss = nan.*no checkpoint '
                                                 'was saved yet'):
        run(tmp_path, at=1, bad=float('nan'), hooks=[dict(type='FiniteLossHook')])
    assert FiniteLossHook.priority == 'ABOVE_NORMAL'


def _rank_runs_the_hook(rank: int, world: int, port: int, out: str) -> None:
    """One gloo rank: iteration 3's loss is NaN on rank 1 only; record what the hook did."""
    import json
    from types import SimpleNamespace

    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world)
    loss = torch.tensor(float('nan') if rank == 1 else 0.5)
    runner = SimpleNamespace(work_dir=out, iter=2)
    try:
        FiniteLossHook().after_train_iter(runner, 0, outputs=dict(loss=loss))
        found = dict(raised=None)
    except NonFiniteLossError as error:
        found = dict(raised=type(error).__name__, message=str(error))
    with open(osp.join(out, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)
    dist.destroy_process_group()


def test_every_rank_stops_at_the_iteration_where_one_rank_saw_nan(tmp_path):
    """A rank that stopped alone would leave the others waiting in the next all-reduce."""
    import json
    import socket
    import time

    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    context = mp.start_processes(_rank_runs_the_hook, args=(2, port, str(tmp_path)),
                                 nprocs=2, join=False, start_method='spawn')
    deadline = time.monotonic() + 120
    while not context.join(timeout=5):  # raises if a rank failed
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail('the ranks did not finish: one of them waits for the other')
    found = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    assert [f['raised'] for f in found] == ['NonFiniteLossError'] * 2
    assert 'iteration 3: loss = nan on this rank; not finite on rank(s) 1' in \
        found[1]['message']
    assert "iteration 3: this rank's losses are finite; not finite on rank(s) 1" in \
        found[0]['message']
