# Linear probing on the FGVC few-shot benchmark: a linear head on the normed class token
# of the frozen ViT-B/16 (no prompts); the rest as the EXPRES config.
_base_ = ['../expres/expres_vit-b16_1xb64-100e_fgvc-fewshot.py', '../_base_/baselines.py']

model = dict(backbone=dict(**_base_.linear_probe, readout='cls'))
