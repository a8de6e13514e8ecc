# EXPRES on the FGVC few-shot benchmark (docs/fewshot.md): the frozen ImageNet-21k
# ViT-B/16, K=5 output tokens (full visibility, residuals on every row: the
# classification reading of `_base_/expres_cls.py`), the mean of their normed final
# states, a linear head; NOAH's fixed recipe. Pick the data with --cfg-options
# dataset=food101 shot=4 seed=1.
_base_ = ['../_base_/fgvc_fewshot.py']

model = dict(
    backbone=dict(type='mmseg.ExpresViT', **_base_.vit, **_base_.expres_cls_reading,
                  num_tokens=5, readout='mean'))  # in mmseg's MODELS; found across scopes
