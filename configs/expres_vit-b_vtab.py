# Short name of configs/expres/expres_vit-b16_1xb128-100e_vtab1k.py (configs/README.md).
_base_ = ['./expres/expres_vit-b16_1xb128-100e_vtab1k.py']
