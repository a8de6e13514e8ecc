# Short name of configs/expres/expres_vit-b16_linear_8xb2-80k_cityscapes-512x1024.py (configs/README.md).
_base_ = ['./expres/expres_vit-b16_linear_8xb2-80k_cityscapes-512x1024.py']
