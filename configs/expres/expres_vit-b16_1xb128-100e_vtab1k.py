# EXPRES on one VTAB-1k task (method sections 5 and 6): the frozen ImageNet-21k ViT-B/16,
# K=5 output tokens, the mean of their normed final states, a linear head; batch 128,
# 100 epochs. Pick the task with --cfg-options task=dtd.
# Full visibility with residuals on every row (one vector per layer and site): the
# reading that docs/method_study.md's transfer study supports for classification (the
# one-way, token-row reading sat at the linear probe); `_base_/expres_cls.py` states it.
_base_ = ['../_base_/vtab1k.py']

model = dict(
    backbone=dict(type='mmseg.ExpresViT', **_base_.vit, **_base_.expres_cls_reading,
                  num_tokens=5, readout='mean'))  # in mmseg's MODELS; found across scopes
