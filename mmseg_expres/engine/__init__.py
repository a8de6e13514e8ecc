"""MMEngine pieces: the optimiser wrapper, the task-checkpoint hook and the benchmark runners."""
from .autocast_optim_wrapper import AutocastOptimWrapper
from .runners import (CustomSegRunner, FewShotRunner, FewShotSegRunner, ListBenchmarkRunner,
                      VtabRunner)
from .task_checkpoint_hook import TaskCheckpointHook, strip_frozen

__all__ = ['AutocastOptimWrapper', 'TaskCheckpointHook', 'strip_frozen', 'CustomSegRunner',
           'FewShotRunner', 'FewShotSegRunner', 'ListBenchmarkRunner', 'VtabRunner']
