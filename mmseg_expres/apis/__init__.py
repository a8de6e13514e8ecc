from .multi_task import ExpresTask, MultiTaskExpres, task_attention_mask
from .runner_setup import (adapt_to_machine, default_work_dir, enable_amp,
                           init_cpu_process_group)

__all__ = ['adapt_to_machine', 'default_work_dir', 'enable_amp', 'init_cpu_process_group',
           'ExpresTask', 'MultiTaskExpres', 'task_attention_mask']
