# EXPRES on the frozen DINOv2 ViT-B/14 (Meta's weights, no registers) + UperNet, ADE20K:
# the ViT-B/16 UperNet config with DINOv2's ViT.
_base_ = ['../expres/expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py']

pretrained = '{{$EXPRES_PRETRAINED_DINOV2_B:checkpoints/dinov2_vitb14_pretrain.pth}}'
model = dict(backbone=dict(arch='vit_base_patch14_dinov2', pretrained=pretrained))
