# Optimiser, schedule and hooks shared by the EXPRES segmentation configs: mmseg's ViT
# UperNet schedule (80k iterations, linear warm-up then poly decay), with separate
# learning rate and weight decay for the prompts (untuned defaults, see README).
_base_ = ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py']

head_lr = 1e-4
head_weight_decay = 0.01
prompt_lr = 1e-3
prompt_weight_decay = 0.0
max_iters = 80000
warmup_iters = 1500

optim_wrapper = dict(
    _delete_=True,  # mmseg's SGD optimiser; its momentum is no AdamW argument
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=head_lr, betas=(0.9, 0.999),
                   weight_decay=head_weight_decay),
    paramwise_cfg=dict(custom_keys={
        'backbone.prompts': dict(lr_mult=prompt_lr / head_lr,
                                 decay_mult=prompt_weight_decay / head_weight_decay)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
# Checkpoints hold the prompts, neck and heads only (a few MB); see
# tools/export_full_checkpoint.py for a self-contained one.
custom_hooks = [dict(type='TaskCheckpointHook'), dict(type='FiniteLossHook')]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=8000, max_keep_ckpts=3))
# mmseg's visualizer, drawing also on the planar images of mmseg's browse_dataset.py
# (mmseg issue 3405; mmseg_expres/engine/seg_visualizer.py)
visualizer = dict(type='ContiguousSegLocalVisualizer')
