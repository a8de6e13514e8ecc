# What every classification benchmark config shares (VTAB-1k, FGVC few-shot; method
# sections 5 and 6): the frozen ImageNet-21k ViT-B/16 (`vit`, which each config's backbone
# takes), a linear head on the backbone's (B, d) readout, top-1 accuracy, 10 warm-up
# epochs and a cosine decay over 100, task checkpoints. A benchmark's base adds its data,
# optimiser and runner; that runner sets the class count from the task or data set.
custom_imports = dict(
    imports=['mmseg_expres.models', 'mmseg_expres.engine'],
    allow_failed_imports=False)

img_size = 224
# Google's ViT-B/16, ImageNet-21k (or export EXPRES_PRETRAINED, as for segmentation):
# what every classification config's backbone shares.
pretrained = '{{$EXPRES_PRETRAINED:checkpoints/imagenet21k_ViT-B_16.npz}}'
vit = dict(arch='vit_base_patch16_224', img_size=img_size, pretrained=pretrained,
           out_indices=())  # the (B, d) readout is the only output
embed_dim = 768
max_epochs = 100
warmup_epochs = 10

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],  # ImageNet mean/std, RGB, 0..255
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    neck=None,
    head=dict(
        type='LinearClsHead',
        in_channels=embed_dim,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))

# The runners fill data_root, ann_file and batch_size; a benchmark adds its pipelines.
train_dataloader = dict(
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset'))
val_dataloader = dict(
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset'))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, eta_min=0.0, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()

# (default_hooks and randomness: each benchmark's base, which also inherits mmpretrain's
# default runtime; MMEngine refuses a key that two bases of one file both set.)
# Checkpoints hold the prompts and the head only; the frozen ViT comes from `pretrained`.
custom_hooks = [dict(type='TaskCheckpointHook'), dict(type='FiniteLossHook')]
