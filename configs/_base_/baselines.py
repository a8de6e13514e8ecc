# What each baseline changes in an EXPRES config, written once. A baseline config
# inherits the EXPRES config of its head, data and schedule, and this file:
#   model = dict(backbone=_base_.vpt_deep)
# The types carry their registry ('mmseg.') so that the classification (mmpretrain)
# configs can use them too.

# VPT-deep (Jia et al., ECCV 2022): a fresh set of K prompts replaces the previous one at
# every block of the frozen ViT, with prompt dropout 0.1 as VPT's VTAB-1k runs
# (github.com/KMnP/vpt demo.ipynb). VPT tunes K per task in {1, 5, 10, 50, 100, 200}; here
# K is fixed at 50 (tools/vtab/run_protocol.py --num-tokens selects it per task); EXPRES uses 5.
vpt_deep = dict(type='mmseg.VPTViT', num_tokens=50, mode='deep', prompt_dropout=0.1)
# VPT-shallow: K prompts inserted once, at the input; no prompt dropout (VPT's default).
vpt_shallow = dict(vpt_deep, mode='shallow', prompt_dropout=0.0)
# The frozen ViT without prompts ("linear probing"; VPT's "head only"): only the neck and
# heads train.
linear_probe = dict(num_tokens=0)
# Bias tuning (BitFit, Ben Zaken et al., ACL 2022): only the ViT's biases and the heads.
bias = dict(num_tokens=0, tune_bias=True)
# Full fine-tuning of the same ViT (no output tokens, so visibility plays no part) ...
finetune = dict(num_tokens=0, frozen=False, visibility='full')
# ... with mmseg's ViT-B UperNet optimiser (the UperNet configs; the EXPRES optimiser's
# `backbone.prompts` key stays, inert: without output tokens no prompt trains): AdamW, lr 6e-5, weight decay 0.01, none on the
# position embedding, class token and norms (segmentation configs).
finetune_optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'pos_embed': dict(decay_mult=0.0),
        'cls_token': dict(decay_mult=0.0),
        'norm': dict(decay_mult=0.0)}))
# The PEFT baselines of the VTAB-1k and few-shot tables (NOAH, SSF, FacT, GLoRA, VFPT),
# as PeftViT (mmseg_expres/models/backbones/peft_vit.py; num_tokens=0: no prompts). Their
# tuned tensors sit inside the ViT and train at the head's learning rate (untuned).
# LoRA (Hu et al., ICLR 2022) through Hugging Face peft: NOAH's LoRA baseline (its
# ViT-B_prompt_lora_8.yaml and supernet_train_prompt.py): rank 8 on every block's fused
# qkv, alpha 8 (scale 1), dropout 0.1 on LoRA's input (PeftViT's default). NOAH also
# trained the frozen ViT with drop-path 0.1: only under tools/vtab/run_protocol.py
# --protocol noah here; VPT's protocol (the default) runs the ViT without it.
# `lora_targets=('qkv', 'proj', 'fc1', 'fc2')` adds the projection and the MLP.
lora = dict(type='mmseg.PeftViT', method='lora', num_tokens=0)
# AdaptFormer (Chen et al., NeurIPS 2022) as its code computes it: a bottleneck beside
# every MLP reading the block's residual stream x' (not LN(x')), s = 0.1, dropout 0.1 (its
# code's defaults); bottleneck 8, FacT's AdaptFormer row and NOAH's 8-dim adapter budget.
adaptformer = dict(type='mmseg.PeftViT', method='adaptformer', num_tokens=0, adapter_dim=8)
# SSF (Lian et al., NeurIPS 2022): a scale and shift after each operation of the ViT ...
ssf = dict(type='mmseg.PeftViT', method='ssf', num_tokens=0)
# ... trained, as SSF's code trains it (github.com/dongzelian/SSF optim_factory.py
# param_groups_weight_decay), without weight decay on its scales and shifts and on every
# other 1-D tensor (biases, norms; timm's rule): every SSF config's (but SETR's, whose
# VPT schedule has weight decay 0)
#   optim_wrapper = dict(paramwise_cfg=_base_.ssf_paramwise_cfg)
# (MMEngine's DefaultOptimWrapperConstructor, which mmseg and mmpretrain build with).
ssf_paramwise_cfg = dict(
    custom_keys={'ssf_scale': dict(decay_mult=0.0), 'ssf_shift': dict(decay_mult=0.0)},
    flat_decay_mult=0.0)
