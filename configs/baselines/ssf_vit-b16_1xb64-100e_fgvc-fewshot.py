# SSF (_base_/baselines.py) on the FGVC few-shot benchmark, with a linear head on the
# normed class token; the rest as configs/expres/expres_vit-b16_1xb64-100e_fgvc-fewshot.py.
_base_ = ['../_base_/fgvc_fewshot.py', '../_base_/baselines.py']

model = dict(backbone=dict(**_base_.vit, **_base_.ssf, readout='cls'))
optim_wrapper = dict(paramwise_cfg=_base_.ssf_paramwise_cfg)  # no decay on 1-D tensors
