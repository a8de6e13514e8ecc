"""Config adjustments shared by ``tools/train.py`` and ``tools/test.py``."""
import logging
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log


def default_work_dir(cfg: Config, config_path: str, work_dir: Optional[str]) -> str:
    """``--work-dir`` if given, else the config's, else ``work_dirs/<config name>``."""
    if work_dir is not None:
        return work_dir
    return cfg.get('work_dir') or osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])


def adapt_to_machine(cfg: Config) -> None:
    """Make a GPU config run where there is no GPU, instead of crashing.

    Without CUDA the NCCL backend cannot start, so distributed runs use gloo. (SyncBN is
    reverted to BN by MMEngine's runner in non-distributed runs.)
    """
    if not torch.cuda.is_available():
        dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        if dist_cfg.get('backend', 'nccl') == 'nccl':
            dist_cfg['backend'] = 'gloo'


def enable_amp(cfg: Config) -> None:
    """Mixed precision as ``--amp`` asks: fp16 with dynamic loss scale on CUDA, bf16 on CPU."""
    wrapper = cfg.optim_wrapper
    if wrapper.get('type') == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in the config.', logger='current',
                  level=logging.WARNING)
        return
    if wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
        raise ValueError(f'--amp needs optim_wrapper.type == "OptimWrapper", got '
                         f'{wrapper.get("type")!r}; set AmpOptimWrapper in the config instead.')
    wrapper.type = 'AmpOptimWrapper'
    if torch.cuda.is_available():
        wrapper.loss_scale = 'dynamic'
    else:
        wrapper.dtype = 'bfloat16'
