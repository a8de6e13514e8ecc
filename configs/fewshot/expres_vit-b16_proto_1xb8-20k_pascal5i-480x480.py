# EXPRES (full visibility) on the frozen ImageNet-21k ViT-B/16 with the prototype-matching
# few-shot head, PASCAL-5i, 480x480, 1 GPU x 8 episodes, 20k meta-training iterations on
# the base classes of `fold`; tested on 1,000 episodes of its novel classes with
# `shot` supports (--cfg-options fold=0..3 shot=1|5; docs/fewshot.md).
_base_ = ['../_base_/fewshot_seg.py', '../_base_/expres_seg_runtime.py',
          '../_base_/datasets/expres_pascal5i.py']
param_scheduler = _base_.meta_param_scheduler
train_cfg = _base_.meta_train_cfg
default_hooks = _base_.meta_default_hooks
