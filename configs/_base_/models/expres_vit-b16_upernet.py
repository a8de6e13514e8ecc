# EXPRES ViT-B/16 + MultiLevelNeck + UperNet with an FCN auxiliary head: the neck and
# heads of mmseg's upernet_vit-b16_ln_mln.py. The class count comes from the data set.
_base_ = ['./expres_vit-b16.py']

embed_dims = _base_.embed_dims
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[embed_dims] * 4,
        out_channels=embed_dims,
        scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[embed_dims] * 4,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=embed_dims,
        in_index=3,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
