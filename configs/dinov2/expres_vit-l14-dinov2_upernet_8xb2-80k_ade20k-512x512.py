# EXPRES on the frozen DINOv2 ViT-L/14 + UperNet, ADE20K: the ViT-B/16 UperNet config with
# DINOv2's ViT-L/14, its width (1024) and four evenly spaced taps of its 24 blocks.
_base_ = ['../expres/expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py']

pretrained = '{{$EXPRES_PRETRAINED_DINOV2_L:checkpoints/dinov2_vitl14_pretrain.pth}}'
width = 1024
model = dict(
    backbone=dict(arch='vit_large_patch14_dinov2', pretrained=pretrained,
                  out_indices=(5, 11, 17, 23)),
    neck=dict(in_channels=[width] * 4, out_channels=width),
    decode_head=dict(in_channels=[width] * 4),
    auxiliary_head=dict(in_channels=width))
