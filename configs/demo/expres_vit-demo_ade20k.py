# Short name of configs/demo/expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py (configs/README.md).
_base_ = ['./expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py']
