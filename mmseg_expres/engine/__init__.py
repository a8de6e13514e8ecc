"""MMEngine pieces: the optimiser wrapper, the task-checkpoint and finite-loss hooks, the
benchmark runners and the segmentation visualizer."""
from .autocast_optim_wrapper import AutocastOptimWrapper
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .runners import (CustomSegRunner, FewShotRunner, FewShotSegRunner, ListBenchmarkRunner,
                      VtabRunner)
from .seg_visualizer import ContiguousSegLocalVisualizer
from .task_checkpoint_hook import TaskCheckpointHook, strip_frozen

__all__ = ['AutocastOptimWrapper', 'ContiguousSegLocalVisualizer', 'FiniteLossHook',
           'NonFiniteLossError', 'TaskCheckpointHook',
           'strip_frozen', 'CustomSegRunner', 'FewShotRunner', 'FewShotSegRunner',
           'ListBenchmarkRunner', 'VtabRunner']
