"""Two task checkpoints on one tiny frozen ViT, each trained a few steps on its own
generated data set: ``ade`` on ADE20K-like scenes (150 classes, the shipped ADE20K UperNet
config) and ``city`` on Cityscapes-like scenes (19 classes, the shipped Cityscapes UperNet
config: another head, the same backbone config). What the multi-task tests load through
``init_multi_task``, ``tools/infer.py --tasks`` and the page's task selector.

Training runs in this process (``model.train_step`` on the configs' own train pipelines),
so both checkpoints are written in seconds.
"""
from pathlib import Path
from typing import Dict, NamedTuple

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmseg_expres.apis import init_model
from mmseg_expres.datasets.demo_data.segmentation import make_ade20k, make_cityscapes
from mmseg_expres.engine.task_checkpoint_hook import strip_frozen

from .seg_runs import ADE_CONFIG, write_tiny_config, write_tiny_vit

CITY_CONFIG = 'expres/expres_vit-b16_upernet_8xb2-80k_cityscapes-512x1024.py'
STEPS = 6


class TwoTasks(NamedTuple):
    config: str  # the shared config (the ADE20K task's)
    ade: str  # its task checkpoint
    city_config: str  # the Cityscapes task's config (19 classes, whole-image test)
    city: str  # its task checkpoint
    losses: Dict[str, list]  # each task's training losses, step by step

    def task_arg(self, name: str) -> str:
        """The task's ``--tasks`` item of tools/infer.py and tools/web_demo.py."""
        return f'ade={self.ade}' if name == 'ade' else f'city={self.city_config}:{self.city}'

    def alone(self, name: str) -> tuple:
        """(config, checkpoint) that load the task on its own."""
        return (self.config, self.ade) if name == 'ade' else (self.city_config, self.city)


def train_task(config: str, checkpoint: Path, seed: int) -> list:
    """``STEPS`` AdamW steps of the config's model on its training set, batch 2; the task
    checkpoint (trained parts and data set classes) as ``TaskCheckpointHook`` writes it."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    dataset = DATASETS.build(Config.fromfile(config).train_dataloader.dataset)
    torch.manual_seed(seed)
    model = init_model(config)
    model.train()
    trained = [p for p in model.parameters() if p.requires_grad]
    optim = OptimWrapper(torch.optim.AdamW(trained, lr=0.02))
    losses = []
    for step in range(STEPS):
        batch = pseudo_collate([dataset[(2 * step + i) % len(dataset)] for i in range(2)])
        log = model.train_step(batch, optim)
        losses.append(log['loss'].item())
    meta = dict(classes=dataset.metainfo['classes'], palette=dataset.metainfo['palette'])
    torch.save(dict(meta=dict(dataset_meta=meta, task_checkpoint=True),
                    state_dict=strip_frozen(model.state_dict(), model)), checkpoint)
    return losses


def write_two_tasks(folder: Path) -> TwoTasks:
    folder.mkdir(parents=True, exist_ok=True)
    vit = write_tiny_vit(str(folder / 'vit.pth'))
    ade_root = make_ade20k(str(folder / 'ade'), num_train=6, num_val=1, size=(40, 48))
    city_root = make_cityscapes(str(folder / 'city'), num_train=6, num_val=1, size=(40, 48))
    config = write_tiny_config(str(folder / 'ade.py'), ADE_CONFIG, ade_root, vit)
    city_base = write_tiny_config(str(folder / 'city_base.py'), CITY_CONFIG, city_root, vit,
                                  reduce_zero_label=False)
    city_config = folder / 'city.py'  # the shipped config tests in 512x1024 windows
    city_config.write_text(f'_base_ = [{city_base!r}]\n'
                           "model = dict(test_cfg=dict(_delete_=True, mode='whole'))\n")
    losses = dict(ade=train_task(config, folder / 'ade.pth', seed=1),
                  city=train_task(str(city_config), folder / 'city.pth', seed=2))
    return TwoTasks(config, str(folder / 'ade.pth'), str(city_config),
                    str(folder / 'city.pth'), losses)
