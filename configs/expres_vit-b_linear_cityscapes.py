# EXPRES on Cityscapes with a linear head on the frozen ViT-B/16's final patch tokens.
_base_ = [
    './_base_/models/expres_vit-b16_linear.py', './_base_/datasets/expres_cityscapes.py',
    './_base_/expres_seg_runtime.py'
]
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    backbone=dict(img_size={{_base_.crop_size}}),
    decode_head=dict(num_classes={{_base_.num_classes}}),
    test_cfg=dict(mode='slide', crop_size={{_base_.crop_size}}, stride=(341, 683)))
