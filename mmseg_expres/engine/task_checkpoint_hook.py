"""Save small task checkpoints: trainable parameters, heads and buffers, no frozen ViT."""
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

from ..utils import checkpoint_files  # noqa: F401  (registers 'atomic_local')


def strip_frozen(state_dict: dict, model: nn.Module) -> dict:
    """``state_dict`` without the frozen ViT tensors of ``model``.

    What stays (output tokens, residual prompts, trainable ViT tensors such as tuned
    biases, neck, heads, BN statistics and the ``frozen_fingerprint_buffer``) is enough to
    rebuild the model on the same pretrained ViT; the fingerprint makes loading onto
    another ViT fail.
    """
    from ..models.task_loading import frozen_vits
    vits = frozen_vits(model)
    prefixes = tuple(vits)
    trainable = set().union(*vits.values())
    return type(state_dict)((k, v) for k, v in state_dict.items()
                            if not (prefixes and k.startswith(prefixes)) or k in trainable)


@HOOKS.register_module()
class TaskCheckpointHook(Hook):
    """Drop the frozen ViT from every checkpoint the runner saves, and save atomically.

    A ViT-B/16 UperNet checkpoint shrinks from the whole model to the prompts, neck and
    heads; ``tools/export_full_checkpoint.py`` writes a self-contained one when needed.
    Resuming works because the runner rebuilds the frozen ViT from ``pretrained``.
    Every ``CheckpointHook`` that writes with MMEngine's default backend gets
    ``AtomicLocalBackend`` (``utils/checkpoint_files.py``), so an interrupted save never
    leaves a truncated file.
    """

    priority = 'VERY_LOW'  # after hooks that add to the checkpoint

    def before_run(self, runner) -> None:
        # CheckpointHook builds its file backend in before_train, after every before_run
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook.backend_args is None:
                hook.backend_args = dict(backend='atomic_local')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        checkpoint['state_dict'] = strip_frozen(checkpoint['state_dict'], model)
        checkpoint.setdefault('meta', {})['task_checkpoint'] = True

