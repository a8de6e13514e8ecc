"""Stop training at the first NaN or infinite loss, before it is saved as a checkpoint.

MMEngine logs a NaN loss and goes on: the optimiser step turns the weights into NaN, and
every later checkpoint and evaluation is garbage (mIoU from a constant prediction), with
nothing on the console but ``loss: nan``. This hook raises instead, naming the iteration,
the losses that are not finite and the last checkpoint to resume from.

Under DDP each rank logs its own loss, so a NaN can appear on one rank only; a rank that
stopped alone would leave the others waiting in the next all-reduce until the timeout.
The ranks share a flag every iteration, and all of them stop at the same one.
"""
import os.path as osp
from typing import List, Optional

import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..utils.numeric import non_finite_losses


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message says what to do."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when a training iteration's loss is not finite.

    It runs before ``CheckpointHook`` (priority ``ABOVE_NORMAL`` against its
    ``VERY_LOW``), so the iteration that went wrong is never written; resume from the
    last checkpoint once the cause is fixed.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        bad = non_finite_losses(outputs or {})
        ranks = ranks_with(bool(bad))
        if not ranks:
            return
        losses = ', '.join(f'{name} = {value}' for name, value in bad.items())
        if dist.get_world_size() > 1:
            losses = (f'{losses} on this rank' if bad else
                      'this rank\'s losses are finite') + \
                f'; not finite on rank(s) {", ".join(map(str, ranks))}'
        last = osp.join(runner.work_dir, 'last_checkpoint')
        resume = (f'resume from the checkpoint named in {last} (--resume)'
                  if osp.isfile(last) else 'no checkpoint was saved yet')
        raise NonFiniteLossError(
            f'Training stopped at iteration {runner.iter + 1}: {losses}. The weights are '
            'no longer usable, so nothing from this iteration was saved; ' + resume + '. '
            'Usual causes: a learning rate too high for the batch size (auto_scale_lr), '
            'fp16 overflow (use bf16 or fp32), or labels the loss cannot take '
            '(tools/check_seg_data.py checks a segmentation data set).')


def ranks_with(flag: bool) -> List[int]:
    """The ranks whose ``flag`` is set, the same list on every rank (one all-reduce).

    Outside distributed training, ``[0]`` if ``flag`` else ``[]``.
    """
    flags = torch.zeros(dist.get_world_size(), dtype=torch.int32)
    flags[dist.get_rank()] = int(flag)
    dist.all_reduce(flags)  # mmengine's: on the backend's device, a no-op in one process
    return flags.nonzero().flatten().tolist()
