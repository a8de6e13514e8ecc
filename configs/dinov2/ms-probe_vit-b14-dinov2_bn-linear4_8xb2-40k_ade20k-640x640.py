# DINOv2's "+ms" segmentation probe (Oquab et al., 2023): the patch tokens of the last four
# layers of the frozen ViT-B/14, each after the final LayerNorm, concatenated, BatchNorm and
# a linear layer; 640 px resolution; test with `tools/test.py --tta` (tta_pipeline below).
_base_ = ['./expres_vit-b14-dinov2_bn-linear_8xb2-40k_ade20k-512x512.py',
          '../_base_/baselines.py']

crop_size, scale = (640, 640), (2560, 640)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(_base_.linear_probe, img_size=crop_size, out_indices=(8, 9, 10, 11)),
    decode_head=dict(in_channels=[768] * 4, in_index=[0, 1, 2, 3], channels=768 * 4),
    test_cfg=dict(crop_size=crop_size, stride=(427, 427)))
# mmseg's ADE20K pipelines at 640 px instead of 512
train_pipeline = [
    dict(step, scale=scale) if step['type'] == 'RandomResize' else
    dict(step, crop_size=crop_size) if step['type'] == 'RandomCrop' else step
    for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=scale) if step['type'] == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# The "+ms" test as configs derived from Meta's ADE20K "ms" config file use it (the file
# is on Meta's download server, not in its repository; docs/results.md): mmseg 0.x's
# MultiScaleFlipAug(img_scale=(99999999, 640), img_ratios=tta_ratios, flip=True), i.e. the
# short side at 640 times each ratio, aspect ratio kept, and flips.
test_scale, tta_ratios = (99999999, 640), [1.0, 1.32, 1.73, 2.28, 3.0]
tta_resizes = [dict(type='Resize', scale=(int(test_scale[0] * r), int(test_scale[1] * r)),
                    keep_ratio=True) for r in tta_ratios]
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(type='TestTimeAug', transforms=[tta_resizes, *_base_.tta_pipeline[1].transforms[1:]])]
