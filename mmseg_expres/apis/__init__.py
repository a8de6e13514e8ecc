from .multi_task import ExpresTask, MultiTaskExpres, task_attention_mask
from .runner_setup import adapt_to_machine, default_work_dir, enable_amp

__all__ = ['adapt_to_machine', 'default_work_dir', 'enable_amp', 'ExpresTask',
           'MultiTaskExpres', 'task_attention_mask']
