from .task_checkpoint_hook import TaskCheckpointHook, strip_frozen

__all__ = ['TaskCheckpointHook', 'strip_frozen']
