# EXPRES on the frozen DINOv2 ViT-B/14 with the head and schedule of DINOv2's linear
# segmentation probe (Oquab et al., 2023; Meta's dinov2_vitb14_ade20k_linear config):
# BNHead on the last layer, ADE20K 512x512 crops, 8 GPUs x 2 images, AdamW lr 1e-3,
# weight decay 1e-4, 1,500 linear warm-up iterations, poly decay, 40k iterations,
# sliding-window test over 512 windows at stride 341. The prompts train at 10x the head's
# lr (_base_/expres_seg_runtime.py). The probe itself is
# linear-probe_vit-b14-dinov2_bn-linear_8xb2-40k_ade20k-512x512.py.
_base_ = [
    '../_base_/models/expres_vit-b16_bnhead.py', '../_base_/datasets/expres_ade20k.py',
    '../_base_/expres_seg_runtime.py'
]
crop_size, num_classes = _base_.crop_size, _base_.num_classes
# Meta's DINOv2 ViT-B/14 (without registers, as the paper's probes), in Meta's .pth layout
# or timm's; with registers: arch vit_base_patch14_reg4_dinov2 and its weights.
pretrained = '{{$EXPRES_PRETRAINED_DINOV2_B:checkpoints/dinov2_vitb14_pretrain.pth}}'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='vit_base_patch14_dinov2', img_size=crop_size, pretrained=pretrained),
    decode_head=dict(num_classes=num_classes),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

max_iters = 40000
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=_base_.warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=_base_.warmup_iters,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=10000)
default_hooks = dict(checkpoint=dict(interval=10000))
