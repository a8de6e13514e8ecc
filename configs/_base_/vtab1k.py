# What every VTAB-1k config shares but the backbone (method sections 5 and 6): the
# classification base (the frozen ImageNet-21k ViT-B/16 `vit`, a linear head, the
# 100-epoch schedule), 224x224 resize and no augmentation, VPT's SGD, batch 128.
#
# `task`, `vtab_root`, the three `*_split` variables and `batch_size` may be overridden
# with --cfg-options: VtabRunner re-derives the head's class count, each dataloader's
# folder, list file and batch size from them (mmseg_expres/engine/runners/vtab.py).
# The full lr x wd selection and 5-seed retraining: tools/vtab/run_protocol.py.
_base_ = ['mmpretrain::_base_/default_runtime.py', './expres_cls.py']

runner_type = 'VtabRunner'

vtab_root = 'data/vtab-1k'
task = 'caltech101'  # any name in mmseg_expres.datasets.vtab.benchmark.VTAB_TASKS
train_split = 'train800val200'  # protocol: 'train800' for the lr x wd selection
val_split = 'val200'
test_split = 'test'

num_classes = 102  # caltech101; VtabRunner sets model.head.num_classes from `task`
batch_size = 128  # per GPU; VtabRunner sets every dataloader's batch_size from it
# Untuned defaults: the protocol selects lr and weight decay per task. `base_lr` is
# VPT's grid unit, scaled by batch/256 through auto_scale_lr (0.5x at batch 128).
base_lr = 1.0
weight_decay = 1e-4

model = dict(data_preprocessor=dict(num_classes=num_classes),
             head=dict(num_classes=num_classes))

# No augmentation: resize to a square and normalise (in the data preprocessor).
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(_base_.img_size, _base_.img_size), interpolation='bicubic'),
    dict(type='PackInputs'),
]
# no batch_size: VtabRunner sets it from `batch_size`, unless overridden per loader
train_dataloader = dict(dataset=dict(data_root=f'{vtab_root}/{task}',
                                     ann_file=f'{train_split}.txt', pipeline=pipeline))
val_dataloader = dict(dataset=dict(data_root=f'{vtab_root}/{task}',
                                   ann_file=f'{val_split}.txt', pipeline=pipeline))
test_dataloader = dict(dataset=dict(data_root=f'{vtab_root}/{task}',
                                    ann_file=f'{test_split}.txt', pipeline=pipeline))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=weight_decay))
auto_scale_lr = dict(base_batch_size=256, enable=True)  # lr = base_lr * batch / 256
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_last=True))
randomness = dict(seed=42)
