# Full fine-tuning on one VTAB-1k task: the whole ViT-B/16 and a linear head on its normed
# class token; same data, schedule and lr x wd protocol as EXPRES.
_base_ = ['../expres/expres_vit-b16_1xb128-100e_vtab1k.py', '../_base_/baselines.py']

model = dict(backbone=dict(**_base_.finetune, readout='cls'))
