"""Stop training at the first NaN or infinite loss, before it is saved as a checkpoint.

MMEngine logs a NaN loss and goes on: the optimiser step turns the weights into NaN, and
every later checkpoint and evaluation is garbage (mIoU from a constant prediction), with
nothing on the console but ``loss: nan``. This hook raises instead, naming the iteration,
the losses that are not finite and the last checkpoint to resume from.
"""
import os.path as osp
from typing import Optional

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
        if not bad:
            return
        losses = ', '.join(f'{name} = {value}' for name, value in bad.items())
        last = osp.join(runner.work_dir, 'last_checkpoint')
        resume = (f'resume from the checkpoint named in {last} (--resume)'
                  if osp.isfile(last) else 'no checkpoint was saved yet')
        raise NonFiniteLossError(
            f'Training stopped at iteration {runner.iter + 1}: {losses}. The weights are '
            'no longer usable, so nothing from this iteration was saved; ' + resume + '. '
            'Usual causes: a learning rate too high for the batch size (auto_scale_lr), '
            'fp16 overflow (use bf16 or fp32), or labels the loss cannot take '
            '(tools/check_seg_data.py checks a segmentation data set).')
