# VPT's ADE20K protocol, VPT-deep with VPT's 10 prompts per layer (VPT, Table 3); the
# rest as configs/setr/expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py.
_base_ = ['./expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py', '../_base_/baselines.py']

model = dict(backbone=dict(_base_.vpt_deep, num_tokens=10))
