# Baseline on Cityscapes, linear head on the final patch tokens: VPT-deep (Jia et al.,
# ECCV 2022), a fresh set of K prompts replaces the previous one at every block of the
# frozen ViT-B/16; same head, schedule and data as EXPRES.
_base_ = ['../expres_vit-b_linear_cityscapes.py']

num_tokens = 50  # VPT's prompts per layer; EXPRES uses 5

model = dict(
    backbone=dict(
        _delete_=True,
        type='VPTViT',
        arch='vit_base_patch16_224',
        img_size={{_base_.crop_size}},
        pretrained={{_base_.pretrained}},
        num_tokens=num_tokens,
        mode='deep',
        final_norm=True,
        out_indices=(11,)))
