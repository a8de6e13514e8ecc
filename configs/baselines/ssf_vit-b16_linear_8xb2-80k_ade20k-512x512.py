# SSF (_base_/baselines.py) on the frozen ViT-B/16 + linear head, ADE20K: EXPRES's head,
# data and schedule (configs/expres/expres_vit-b16_linear_8xb2-80k_ade20k-512x512.py).
_base_ = ['../expres/expres_vit-b16_linear_8xb2-80k_ade20k-512x512.py', '../_base_/baselines.py']

model = dict(backbone=_base_.ssf)
optim_wrapper = dict(paramwise_cfg=_base_.ssf_paramwise_cfg)  # no decay on 1-D tensors
