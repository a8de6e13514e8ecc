"""What users and the tools call: building a model, and the set-up of a run's config."""
from .fewshot_seg import encode_supports, fewshot_segment, segment_queries
from .inference import fit_config_to_checkpoint, init_model
from .multi_task import MultiTaskModel, inference_multi_task, init_multi_task
from .runner_setup import (adapt_to_machine, add_common_args, default_work_dir,
                           enable_amp, init_cpu_process_group, load_checked_config, load_config,
                           load_run_config)
from .support_masks import SupportMaskError, read_support_mask

__all__ = ['MultiTaskModel', 'SupportMaskError', 'adapt_to_machine', 'add_common_args',
           'default_work_dir', 'enable_amp', 'encode_supports', 'fewshot_segment',
           'fit_config_to_checkpoint', 'inference_multi_task', 'init_cpu_process_group',
           'init_model', 'init_multi_task', 'load_checked_config', 'load_config',
           'load_run_config', 'read_support_mask', 'segment_queries']
