# SSF (scale and shift) (_base_/baselines.py) on the frozen ViT-B/16 + UperNet,
# your own data set (docs/custom_data.md): EXPRES's head, data and schedule.
_base_ = ['../expres/expres_vit-b16_upernet_8xb2-80k_custom-512x512.py', '../_base_/baselines.py']

model = dict(backbone=_base_.ssf)
optim_wrapper = dict(paramwise_cfg=_base_.ssf_paramwise_cfg)  # no decay on 1-D tensors
