# VPT's ADE20K protocol, VPT + bias: VPT-deep with 100 prompts and the ViT's biases trained (VPT, Table 3); the
# rest as configs/setr/expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py.
_base_ = ['./expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py', '../_base_/baselines.py']

model = dict(backbone=dict(_base_.vpt_deep, num_tokens=100, tune_bias=True))
