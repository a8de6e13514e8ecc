# EXPRES on the frozen ImageNet-21k ViT-B/16 with a linear head on its final patch
# tokens, Cityscapes, 512x1024 crops, 8 GPUs x 2 images, 80k iterations; sliding-window
# test.
_base_ = [
    '../_base_/models/expres_vit-b16_linear.py', '../_base_/datasets/expres_cityscapes.py',
    '../_base_/expres_seg_runtime.py'
]
crop_size, num_classes = _base_.crop_size, _base_.num_classes
model = dict(
    data_preprocessor=dict(size=crop_size), backbone=dict(img_size=crop_size),
    decode_head=dict(num_classes=num_classes),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 683)))
