# Baseline on one VTAB-1k task: linear probing, a linear head on the normed class token of
# the frozen ViT-B/16 (no prompts); same data, schedule and protocol as EXPRES.
_base_ = ['../expres_vit-b_vtab.py']

model = dict(backbone=dict(num_tokens=0, residual_sites=(), readout='cls'))
