# EXPRES on one VTAB-1k task (method sections 5 and 6): the frozen ImageNet-21k ViT-B/16,
# K=5 output tokens with one-way visibility, the mean of their normed final states, a
# linear head; batch 128, 100 epochs. Pick the task with --cfg-options task=dtd.
# One-way visibility with token-row residuals: on the transfer study of
# docs/method_study.md no other reading held up across pretrained ViTs, and this one
# trains at about the frozen forward's cost.
_base_ = ['../_base_/vtab1k.py']

model = dict(
    backbone=dict(type='mmseg.ExpresViT', **_base_.vit, num_tokens=5, visibility='one_way',
                  readout='mean'))  # registered in mmseg's MODELS; found across scopes
