# SSF (_base_/baselines.py) on the frozen ViT-B/16 + the prototype-matching few-shot
# head, PASCAL-5i: EXPRES's head, data and schedule
# (configs/fewshot/expres_vit-b16_proto_1xb8-20k_pascal5i-480x480.py).
_base_ = ['../fewshot/expres_vit-b16_proto_1xb8-20k_pascal5i-480x480.py',
          '../_base_/baselines.py']

model = dict(backbone=_base_.ssf)
optim_wrapper = dict(paramwise_cfg=_base_.ssf_paramwise_cfg)  # no decay on 1-D tensors
