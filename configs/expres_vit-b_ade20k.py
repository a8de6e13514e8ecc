# EXPRES on ADE20K: frozen ViT-B/16 (ImageNet-21k) + UperNet, 512x512 crops, 150 classes,
# 80k iterations, 8 GPUs x 2 images (the schedule of mmseg's ViT-B UperNet, 47.71 mIoU).
_base_ = [
    './_base_/models/expres_vit-b16_upernet.py', './_base_/datasets/expres_ade20k.py',
    './_base_/expres_seg_runtime.py'
]
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    backbone=dict(img_size={{_base_.crop_size}}),
    decode_head=dict(num_classes={{_base_.num_classes}}),
    auxiliary_head=dict(num_classes={{_base_.num_classes}}))
