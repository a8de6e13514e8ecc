# Baseline on ADE20K, UperNet: full fine-tuning of the same timm ViT-B/16, same head,
# schedule and data as EXPRES. Optimiser: mmseg's ViT-B UperNet recipe (AdamW, lr 6e-5,
# weight decay 0.01, none on position embedding, class token and norms).
_base_ = ['../expres_vit-b_ade20k.py']

model = dict(backbone=dict(num_tokens=0, residual_sites=(), frozen=False))
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=0.01),
    paramwise_cfg=dict(_delete_=True, custom_keys={
        'pos_embed': dict(decay_mult=0.0),
        'cls_token': dict(decay_mult=0.0),
        'norm': dict(decay_mult=0.0)}))
