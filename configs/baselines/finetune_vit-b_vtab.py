# Baseline on one VTAB-1k task: full fine-tuning of the same timm ViT-B/16, linear head on
# the normed class token; same data, schedule and lr x wd protocol as EXPRES.
_base_ = ['../expres_vit-b_vtab.py']

model = dict(
    backbone=dict(num_tokens=0, residual_sites=(), readout='cls', frozen=False,
                  visibility='full'))  # 'one_way' has no meaning without output tokens
