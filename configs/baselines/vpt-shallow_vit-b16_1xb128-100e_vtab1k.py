# VPT-shallow on one VTAB-1k task: VPT-deep's config with prompts at the input only.
_base_ = ['./vpt-deep_vit-b16_1xb128-100e_vtab1k.py']

model = dict(backbone=_base_.vpt_shallow)  # mode and prompt dropout (_base_/baselines.py)
