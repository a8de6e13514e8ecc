# EXPRES ViT-B/16 with a linear head: a 1x1 convolution on the final block's patch tokens
# after the ViT's final LayerNorm. The class count comes from the data set.
_base_ = ['./expres_vit-b16.py']

embed_dims = _base_.embed_dims
model = dict(
    backbone=dict(out_indices=_base_.out_indices[-1:], final_norm=True),
    decode_head=dict(
        type='FCNHead',
        in_channels=embed_dims,
        in_index=0,
        channels=embed_dims,
        num_convs=0,
        concat_input=False,
        dropout_ratio=0.1,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
