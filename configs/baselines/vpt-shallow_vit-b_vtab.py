# Baseline on one VTAB-1k task: VPT-shallow, K prompts inserted once at the input of the
# frozen ViT-B/16, VPT's readout (normed class token), linear head.
_base_ = ['./vpt-deep_vit-b_vtab.py']

model = dict(backbone=dict(mode='shallow'))
