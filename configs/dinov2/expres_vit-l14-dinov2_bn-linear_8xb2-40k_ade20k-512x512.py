# EXPRES on the frozen DINOv2 ViT-L/14 with DINOv2's linear probe head and schedule (as
# the ViT-B/14 config, which this one changes to ViT-L/14).
_base_ = ['./expres_vit-b14-dinov2_bn-linear_8xb2-40k_ade20k-512x512.py']

pretrained = '{{$EXPRES_PRETRAINED_DINOV2_L:checkpoints/dinov2_vitl14_pretrain.pth}}'
model = dict(
    backbone=dict(arch='vit_large_patch14_dinov2', pretrained=pretrained, out_indices=(23,)),
    decode_head=dict(in_channels=[1024], channels=1024))
