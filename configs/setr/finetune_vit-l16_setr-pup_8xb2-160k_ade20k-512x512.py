# VPT's ADE20K protocol, full fine-tuning of the ViT-L/16, with the same SGD recipe (VPT, Table 3); the
# rest as configs/setr/expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py.
_base_ = ['./expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py', '../_base_/baselines.py']

model = dict(backbone=_base_.finetune)
