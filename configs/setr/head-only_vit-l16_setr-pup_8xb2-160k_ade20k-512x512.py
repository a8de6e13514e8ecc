# VPT's ADE20K protocol, the frozen ViT without prompts: only the SETR-PUP heads train (VPT, Table 3); the
# rest as configs/setr/expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py.
_base_ = ['./expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py', '../_base_/baselines.py']

model = dict(backbone=_base_.linear_probe)
