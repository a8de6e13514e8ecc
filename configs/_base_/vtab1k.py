# What every VTAB-1k config shares (method sections 5 and 6): the frozen ImageNet-21k
# ViT-B/16 (`vit`), a linear head on the backbone's (B, d) readout, 224x224 resize and
# no augmentation, VPT's SGD + cosine schedule. The configs add their backbone.
#
# `task`, `vtab_root`, the three `*_split` variables and `batch_size` may be overridden
# with --cfg-options: VtabRunner re-derives the head's class count, each dataloader's
# folder, list file and batch size from them (mmseg_expres/datasets/vtab_runner.py).
# The full lr x wd selection and 5-seed retraining: tools/vtab/run_protocol.py.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(
    imports=['mmseg_expres.models', 'mmseg_expres.datasets.vtab_runner',
             'mmseg_expres.engine'],
    allow_failed_imports=False)
runner_type = 'VtabRunner'

vtab_root = 'data/vtab-1k'
task = 'caltech101'  # any name in mmseg_expres.datasets.vtab.VTAB_TASKS
train_split = 'train800val200'  # protocol: 'train800' for the lr x wd selection
val_split = 'val200'
test_split = 'test'

img_size = 224
# Google's ViT-B/16, ImageNet-21k (or export EXPRES_PRETRAINED, as for segmentation):
# what every VTAB-1k config's backbone shares.
pretrained = '{{$EXPRES_PRETRAINED:checkpoints/imagenet21k_ViT-B_16.npz}}'
vit = dict(arch='vit_base_patch16_224', img_size=img_size, pretrained=pretrained,
           out_indices=())  # the (B, d) readout is the only output
embed_dim = 768
num_classes = 102  # caltech101; VtabRunner sets model.head.num_classes from `task`
batch_size = 128  # per GPU; VtabRunner sets every dataloader's batch_size from it
max_epochs = 100
warmup_epochs = 10
# Untuned defaults: the protocol selects lr and weight decay per task. `base_lr` is
# VPT's grid unit, scaled by batch/256 through auto_scale_lr (0.5x at batch 128).
base_lr = 1.0
weight_decay = 1e-4

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        num_classes=num_classes,
        mean=[123.675, 116.28, 103.53],  # ImageNet mean/std, RGB, 0..255
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=embed_dim,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))

# No augmentation: resize to a square and normalise (in the data preprocessor).
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic'),
    dict(type='PackInputs'),
]


def _loader(split, shuffle):
    # A function keeps the three dataloaders identical except for split and shuffling.
    # no batch_size: VtabRunner sets it from `batch_size`, unless overridden per loader
    return dict(
        num_workers=4,
        persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        dataset=dict(type='CustomDataset', data_root=f'{vtab_root}/{task}',
                     ann_file=f'{split}.txt', pipeline=pipeline))


train_dataloader = _loader(train_split, shuffle=True)
val_dataloader = _loader(val_split, shuffle=False)
test_dataloader = _loader(test_split, shuffle=False)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=weight_decay))
auto_scale_lr = dict(base_batch_size=256, enable=True)  # lr = base_lr * batch / 256
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, eta_min=0.0, convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_last=True))
# Checkpoints hold the prompts and the head only; the frozen ViT comes from `pretrained`.
custom_hooks = [dict(type='TaskCheckpointHook')]
randomness = dict(seed=42)
