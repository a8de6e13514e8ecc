# The README's demo: EXPRES + UperNet on a generated ADE20K-layout set, on a CPU in
# minutes. A small ViT (width 96, depth 6, patch 8) written by tools/make_demo_assets.py
# stands in for the ImageNet-21k ViT-B/16; the config composes the same bases as
# configs/expres/expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py and shrinks sizes and
# schedule.
_base_ = [
    '../_base_/models/expres_vit-b16_upernet.py', '../_base_/datasets/expres_ade20k.py',
    '../_base_/expres_seg_runtime.py'
]
data_root = 'data/demo/ADEChallengeData2016'
pretrained = 'data/demo/vit_demo.pth'
crop_size = (128, 128)
img_scale = (160, 128)
embed_dims = 96
num_classes = _base_.num_classes
max_iters = 300
warmup_iters = 40
eval_interval = 150

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations', num_classes=num_classes, reduce_zero_label=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),  # the inference APIs look for this name
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='CheckedLoadAnnotations', num_classes=num_classes, reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='vit_small_patch16_224',
        vit_cfg=dict(patch_size=8, embed_dim=embed_dims, depth=6, num_heads=3),
        img_size=crop_size,
        pretrained=pretrained,
        out_indices=(1, 2, 3, 5)),
    neck=dict(in_channels=[embed_dims] * 4, out_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4, channels=64, num_classes=num_classes),
    auxiliary_head=dict(in_channels=embed_dims, channels=32, num_classes=num_classes))

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=eval_interval)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=eval_interval))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
