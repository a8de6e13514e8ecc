# What every FGVC few-shot config shares but the backbone (docs/fewshot.md): the
# classification base (the frozen ImageNet-21k ViT-B/16 `vit`, a linear head, 10 warm-up
# and 100 epochs) with the fixed recipe NOAH's scripts use for every method: AdamW,
# lr 5e-3, weight decay 1e-4, batch 64, timm's DeiT-style augmentation with Mixup/CutMix
# and label smoothing, 256 -> 224 centre crop at test time, training seed 0.
#
# `dataset`, `shot`, `seed` (which list: 0, 1, 2), `fewshot_root`, the `*_split`
# variables, `batch_size` and `custom_num_classes` may be overridden with --cfg-options:
# FewShotRunner re-derives the head's class count, each dataloader's folder, list file
# and batch size from them (mmseg_expres/engine/runners/fgvc_fewshot.py). All data sets,
# shots and seeds: tools/fewshot/run_protocol.py.
_base_ = ['mmpretrain::_base_/default_runtime.py', './expres_cls.py']

runner_type = 'FewShotRunner'

fewshot_root = 'data/few-shot'
dataset = 'oxford-pets'  # any name in mmseg_expres.datasets.fgvc_fewshot.benchmark.FEWSHOT_DATASETS
shot = 1  # images per class: 1, 2, 4, 8 or 16 with NOAH's lists
seed = 0  # which list of that shot: 0, 1 or 2 with NOAH's lists
train_split = 'shots'  # the list of `shot` and `seed`
val_split = 'test'  # the fixed recipe evaluates the test split once, after the last epoch
test_split = 'test'
# Only for a data set of your own in the same layout; the benchmark's are in the table.
custom_num_classes = None
num_classes = 37  # oxford-pets; FewShotRunner sets model.head.num_classes from `dataset`
batch_size = 64  # per GPU; FewShotRunner sets every dataloader's batch_size from it
lr = 5e-3
weight_decay = 1e-4

# timm's create_transform(is_training=True) with the defaults of NOAH's training script
# (DeiT's): random resized crop, flip, RandAugment rand-m9-mstd0.5-inc1, random erasing
# 0.25 with per-pixel noise; the same steps as mmpretrain's imagenet_bs64_swin_224.py,
# whose ImageNet loaders this config cannot inherit (their `split` key is not a
# CustomDataset argument).
bgr_mean = _base_.model.data_preprocessor.mean[::-1]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=_base_.img_size, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=bgr_mean,
         fill_std=_base_.model.data_preprocessor.std[::-1]),
    dict(type='PackInputs'),
]
# NOAH's test transform: a square 256x256 resize (not the short edge), then the centre.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=_base_.img_size),
    dict(type='PackInputs'),
]

data_root = f'{fewshot_root}/{dataset}'
# As NOAH's loader: full batches only (a 1-shot list of 100 classes is one step an epoch).
train_dataloader = dict(drop_last=True, dataset=dict(
    data_root=data_root, data_prefix='images',
    ann_file=f'annotations/train_meta.list.num_shot_{shot}.seed_{seed}',
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, data_prefix='images',
                                   ann_file='annotations/test_meta.list',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    data_preprocessor=dict(num_classes=num_classes),
    head=dict(num_classes=num_classes,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    # Mixup 0.8 or CutMix 1.0, one of the two per batch (timm's switch_prob 0.5).
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=lr, weight_decay=weight_decay))
auto_scale_lr = dict(base_batch_size=64, enable=True)  # lr as given at a total batch of 64
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_last=True))
randomness = dict(seed=0)  # NOAH's --seed default; the list seeds vary the data
