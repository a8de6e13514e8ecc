# EXPRES ViT-B/16 + MultiLevelNeck + UperNet: mmseg's ViT-B UperNet model with the
# ViT replaced by the frozen ExpresViT. Every segmentation config inherits this file.
_base_ = ['mmseg::_base_/models/upernet_vit-b16_ln_mln.py']

custom_imports = dict(
    imports=['mmseg_expres.models', 'mmseg_expres.engine', 'mmseg_expres.datasets'],
    allow_failed_imports=False)

# The frozen backbone's weights: the one place to set them (or export EXPRES_PRETRAINED).
# Google's ImageNet-21k ViT-B/16 (.npz, as VPT and EXPRES use), or any timm/mmseg
# ViT-B/16 .pth/.safetensors.
pretrained = '{{$EXPRES_PRETRAINED:checkpoints/imagenet21k_ViT-B_16.npz}}'
embed_dims = 768

model = dict(
    pretrained=None,  # mmseg would hand this to the backbone as init_cfg
    backbone=dict(
        _delete_=True,
        type='ExpresViT',
        arch='vit_base_patch16_224',
        img_size=512,
        pretrained=pretrained,
        num_tokens=5,
        residual_sites=('ln', 'q', 'k', 'v', 'proj'),
        residual_layers=None,
        visibility='full',
        token_init='xavier',
        out_indices=(2, 5, 8, 11)),
    neck=dict(in_channels=[embed_dims] * 4, out_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4),
    auxiliary_head=dict(in_channels=embed_dims))
