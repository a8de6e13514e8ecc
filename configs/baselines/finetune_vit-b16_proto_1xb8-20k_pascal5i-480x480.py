# Full fine-tuning of the ViT-B/16 + the prototype-matching few-shot head, PASCAL-5i, with
# mmseg's ViT-B optimiser: EXPRES's head, data and schedule
# (configs/fewshot/expres_vit-b16_proto_1xb8-20k_pascal5i-480x480.py).
_base_ = ['../fewshot/expres_vit-b16_proto_1xb8-20k_pascal5i-480x480.py',
          '../_base_/baselines.py']

model = dict(backbone=_base_.finetune)
optim_wrapper = _base_.finetune_optim_wrapper
