# EXPRES on the frozen ImageNet-21k ViT-B/16 + UperNet, ADE20K, 512x512 crops, 150
# classes, 8 GPUs x 2 images, 80k iterations: the model and schedule of mmseg's
# vit_vit-b16_mln_upernet_8xb2-80k_ade20k-512x512.py (47.71 mIoU, fine-tuned).
_base_ = [
    '../_base_/models/expres_vit-b16_upernet.py', '../_base_/datasets/expres_ade20k.py',
    '../_base_/expres_seg_runtime.py'
]
crop_size, num_classes = _base_.crop_size, _base_.num_classes
model = dict(
    data_preprocessor=dict(size=crop_size), backbone=dict(img_size=crop_size),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))
