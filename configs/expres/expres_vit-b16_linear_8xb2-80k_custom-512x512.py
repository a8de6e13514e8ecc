# EXPRES on the frozen ImageNet-21k ViT-B/16 with a linear head on its final patch
# tokens, on your own data set (docs/custom_data.md): set data_root and classes; 512x512
# crops, 8 GPUs x 2 images, 80k iterations.
_base_ = [
    '../_base_/models/expres_vit-b16_linear.py', '../_base_/datasets/expres_custom.py',
    '../_base_/expres_seg_runtime.py'
]
crop_size, num_classes = _base_.crop_size, _base_.num_classes
model = dict(
    data_preprocessor=dict(size=crop_size), backbone=dict(img_size=crop_size),
    decode_head=dict(num_classes=num_classes))
