# EXPRES ViT with DINOv2's linear probe head: BatchNorm and a 1x1 convolution on the final
# block's patch tokens, every read map after the ViT's final LayerNorm (as DINOv2's
# segmentation evaluation reads its ViT). The class count comes from the data set.
_base_ = ['./expres_vit-b16.py']

embed_dims = _base_.embed_dims
model = dict(
    backbone=dict(out_indices=_base_.out_indices[-1:], final_norm='all'),
    decode_head=dict(
        type='BNHead',
        in_channels=[embed_dims],
        in_index=[0],
        input_transform='resize_concat',
        channels=embed_dims,
        dropout_ratio=0,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
