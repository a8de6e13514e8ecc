# VPT's ADE20K protocol (Jia et al., ECCV 2022, Table 3; reused by CVPT, DA-VPT,
# RepAdapter and HyperAdapter): mmseg's SETR-PUP ADE20K config, i.e. ViT-L/16 + SETR-PUP
# with three auxiliary heads at weight 0.4, 512x512 crops, 8 GPUs x 2 images, 160k
# iterations, SGD lr 1e-3, weight decay 0, head lr x10, poly decay, sliding-window test
# over 512 windows at stride 341, with its ViT replaced by the frozen ImageNet-21k
# ViT-L/16 under EXPRES. `tools/test.py --tta` gives the "MS" column with VPT's scales
# (tta_pipeline below). docs/results.md has the published numbers.
_base_ = ['mmseg::setr/setr_vit-l_pup_8xb2-160k_ade20k-512x512.py']

custom_imports = dict(
    imports=['mmseg_expres.models', 'mmseg_expres.engine', 'mmseg_expres.datasets'],
    allow_failed_imports=False)
# Google's ImageNet-21k ViT-L/16 (.npz), as VPT uses; timm/mmseg .pth work too.
pretrained = '{{$EXPRES_PRETRAINED_VIT_L:checkpoints/imagenet21k_ViT-L_16.npz}}'
model = dict(
    backbone=dict(
        _delete_=True,  # mmseg's own VisionTransformer; ExpresViT wraps timm's
        type='ExpresViT',
        arch='vit_large_patch16_224',
        img_size=_base_.crop_size,
        pretrained=pretrained,
        num_tokens=5,
        out_indices=(9, 14, 19, 23)))  # what SETR-PUP's four heads read
# Checkpoints hold the prompts and heads only (tools/export_full_checkpoint.py).
custom_hooks = [dict(type='TaskCheckpointHook'), dict(type='FiniteLossHook')]

# VPT's "MS" numbers come from mmseg 0.x: MultiScaleFlipAug(img_scale=(2048, 512),
# img_ratios=tta_ratios, flip=True) fits each image, aspect ratio kept, into the
# single-scale size times each ratio. mmseg 1.x's ADE20K tta_pipeline multiplies the
# image's own size instead, which differs for every image whose short side is not 512.
test_scale, tta_ratios = (2048, 512), [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_resizes = [dict(type='Resize', scale=(int(test_scale[0] * r), int(test_scale[1] * r)),
                    keep_ratio=True) for r in tta_ratios]
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(type='TestTimeAug', transforms=[tta_resizes, *_base_.tta_pipeline[1].transforms[1:]])]
