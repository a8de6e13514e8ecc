"""The VTAB-1k training protocols that ``tools/vtab/run_protocol.py`` runs.

* ``vpt`` (the default; VPT, Jia et al., ECCV 2022, and EXPRES): the config's SGD with
  lr x weight decay selected per task on val200 from VPT's grid, batch/256 lr scaling.
* ``noah``: the protocol of NOAH's VTAB-1k table (Zhang et al., 2022; github.com/
  ZhangYuanhan-AI/NOAH, commit e9c55f3, ``configs/LoRA/VTAB/slurm_train_lora_vtab.sh``
  and ``supernet_train_prompt.py``), which FacT's table follows too: AdamW, lr 1e-3 and
  weight decay 1e-4 for every task (no selection), batch 64, 100 epochs with 10 warm-up
  epochs from lr 1e-6 and a cosine decay to 1e-5, drop-path 0.1 in the ViT
  (``--drop-path`` default), no augmentation, no label smoothing. The published LoRA,
  Adapter, AdaptFormer and NOAH rows come from it. Here the warm-up and cosine step per
  iteration, and the cosine runs over the 90 epochs after the warm-up (timm's, per epoch,
  over all 100); the drop-path acts in backbones that run timm's blocks (VPTViT, PeftViT).
"""
from dataclasses import dataclass
from typing import Tuple

#: VPT's lr grid (base lrs, x batch / 256) and weight decays.
VPT_LRS = (50.0, 25.0, 10.0, 5.0, 2.5, 1.0, 0.5, 0.25, 0.1, 0.05)
VPT_WDS = (0.01, 0.001, 0.0001, 0.0)
#: The prompt counts VPT selects from per task (its paper, section 4.1).
VPT_NUM_TOKENS = (1, 5, 10, 50, 100, 200)


@dataclass(frozen=True)
class VtabProtocol:
    """One protocol: its default lrs and weight decays, whether it selects among them on
    val200, and the ``--cfg-options`` every run of it gets (before the user's)."""
    name: str
    lrs: Tuple[float, ...]
    wds: Tuple[float, ...]
    selects: bool
    options: Tuple[str, ...] = ()


PROTOCOLS = {
    'vpt': VtabProtocol('vpt', VPT_LRS, VPT_WDS, selects=True),
    'noah': VtabProtocol('noah', (1e-3,), (1e-4,), selects=False, options=(
        'batch_size=64',
        'auto_scale_lr.enable=False',  # lr 1e-3 at batch 64, as NOAH gives it
        'optim_wrapper.optimizer._delete_=True',  # SGD's momentum is no AdamW argument
        'optim_wrapper.optimizer.type=AdamW',
        'param_scheduler.1.eta_min=1e-05',  # timm's --min-lr default
        'model.backbone.vit_cfg.drop_path_rate=0.1',
    )),
}
