# Baseline on ADE20K, linear head on the final patch tokens: the frozen ViT-B/16 without
# prompts ("linear probing": only the neck/head train), same head, schedule and data as
# EXPRES.
_base_ = ['../expres_vit-b_linear_ade20k.py']

model = dict(backbone=dict(num_tokens=0, residual_sites=()))
