# VPT-shallow on the FGVC few-shot benchmark: VPT-deep's config with prompts at the input
# only.
_base_ = ['./vpt-deep_vit-b16_1xb64-100e_fgvc-fewshot.py']

model = dict(backbone=_base_.vpt_shallow)  # mode and prompt dropout (_base_/baselines.py)
