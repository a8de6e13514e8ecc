# EXPRES on the frozen ImageNet-21k ViT-B/16 + UperNet on your own data set
# (docs/custom_data.md): set data_root and classes (a list or a classes.txt) in a config
# of your own or with --cfg-options; the heads get len(classes). Model and schedule as
# expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py; 512x512 crops, 80k iterations.
_base_ = [
    '../_base_/models/expres_vit-b16_upernet.py', '../_base_/datasets/expres_custom.py',
    '../_base_/expres_seg_runtime.py'
]
crop_size, num_classes = _base_.crop_size, _base_.num_classes
model = dict(
    data_preprocessor=dict(size=crop_size), backbone=dict(img_size=crop_size),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))
