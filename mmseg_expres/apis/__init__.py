from .multi_task import ExpresTask, MultiTaskExpres, task_attention_mask
from .runner_setup import (adapt_to_machine, add_common_args, default_work_dir,
                           enable_amp, init_cpu_process_group, load_run_config)

__all__ = ['adapt_to_machine', 'add_common_args', 'default_work_dir', 'enable_amp',
           'init_cpu_process_group', 'load_run_config',
           'ExpresTask', 'MultiTaskExpres', 'task_attention_mask']
