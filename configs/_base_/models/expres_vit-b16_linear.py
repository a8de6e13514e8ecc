# EXPRES ViT-B/16 with a linear head: a 1x1 convolution on the final (normed) patch
# tokens of the frozen ViT; no neck, no auxiliary head.
_base_ = ['./expres_vit-b16_upernet.py']

model = dict(
    backbone=dict(out_indices=(11,), final_norm=True),
    neck=None,
    auxiliary_head=None,
    decode_head=dict(
        _delete_=True,
        type='FCNHead',
        in_channels={{_base_.embed_dims}},
        in_index=0,
        channels={{_base_.embed_dims}},
        num_convs=0,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
