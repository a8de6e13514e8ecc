# The frozen ImageNet-21k ViT-B/16 with EXPRES prompts, before any head: the backbone,
# its weights and the data preprocessor of every segmentation config. Each fact about
# the ViT is stated here once; to try another ViT, change this file.
custom_imports = dict(
    imports=['mmseg_expres.models', 'mmseg_expres.engine', 'mmseg_expres.datasets'],
    allow_failed_imports=False)

# The frozen backbone's weights: the one place to set them (or export EXPRES_PRETRAINED).
# Google's ImageNet-21k ViT-B/16 (.npz, as VPT and EXPRES use), or any timm/mmseg
# ViT-B/16 .pth/.safetensors.
pretrained = '{{$EXPRES_PRETRAINED:checkpoints/imagenet21k_ViT-B_16.npz}}'
embed_dims = 768
# The blocks a multi-level head reads (mmseg's ViT-B UperNet); the last is the final one.
out_indices = (2, 5, 8, 11)

# ImageNet mean/std, RGB, as in mmseg's ViT models
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    # Only the keys VPTViT shares, so that a baseline replaces the type without
    # deleting anything; the EXPRES knobs (residual_sites, visibility, token_init, ...)
    # keep ExpresViT's defaults, the paper's (README, "The backbone").
    backbone=dict(
        type='ExpresViT',
        arch='vit_base_patch16_224',
        pretrained=pretrained,
        num_tokens=5,
        out_indices=out_indices),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
