# The frozen ViT-B/16 without prompts (only the head trains) + linear head, ADE20K: EXPRES's
# head, data and schedule (configs/expres/expres_vit-b16_linear_8xb2-80k_ade20k-512x512.py).
_base_ = ['../expres/expres_vit-b16_linear_8xb2-80k_ade20k-512x512.py', '../_base_/baselines.py']

model = dict(backbone=_base_.linear_probe)
