# Short name of fewshot/expres_vit-b16_proto_1xb8-20k_coco20i-480x480.py (configs/README.md).
_base_ = ['./expres_vit-b16_proto_1xb8-20k_coco20i-480x480.py']
