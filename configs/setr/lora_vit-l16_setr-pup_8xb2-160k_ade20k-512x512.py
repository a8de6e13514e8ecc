# VPT's ADE20K protocol, LoRA (rank 8 on qkv, through peft) (_base_/baselines.py) on the frozen
# ViT-L/16; not in VPT's Table 3. The rest as
# configs/setr/expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py.
_base_ = ['./expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py', '../_base_/baselines.py']

model = dict(backbone=_base_.lora)
