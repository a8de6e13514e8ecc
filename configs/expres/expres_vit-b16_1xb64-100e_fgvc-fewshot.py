# EXPRES on the FGVC few-shot benchmark (docs/fewshot.md): the frozen ImageNet-21k
# ViT-B/16, K=5 output tokens with one-way visibility, the mean of their normed final
# states, a linear head; NOAH's fixed recipe. Pick the data with --cfg-options
# dataset=food101 shot=4 seed=1.
# (The reading and its evidence: docs/method_study.md, "The defaults".)
_base_ = ['../_base_/fgvc_fewshot.py']

model = dict(
    backbone=dict(type='mmseg.ExpresViT', **_base_.vit, num_tokens=5, visibility='one_way',
                  readout='mean'))  # registered in mmseg's MODELS; found across scopes
