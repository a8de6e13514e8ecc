# Short name of configs/expres/expres_vit-b16_linear_8xb2-80k_ade20k-512x512.py (configs/README.md).
_base_ = ['./expres/expres_vit-b16_linear_8xb2-80k_ade20k-512x512.py']
