from .autocast_optim_wrapper import AutocastOptimWrapper
from .task_checkpoint_hook import TaskCheckpointHook, strip_frozen

__all__ = ['AutocastOptimWrapper', 'TaskCheckpointHook', 'strip_frozen']
