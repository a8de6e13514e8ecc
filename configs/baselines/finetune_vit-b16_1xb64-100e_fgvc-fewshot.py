# Full fine-tuning on the FGVC few-shot benchmark: the whole ViT-B/16 and a linear head on
# its normed class token; data, schedule and augmentation as the EXPRES config. NOAH's
# recipe (AdamW, lr 5e-3) is for the small tuned parts; the whole ViT gets the
# fine-tuning optimiser of _base_/baselines.py (AdamW, lr 6e-5, weight decay 0.01), an
# untuned default of this project (docs/fewshot.md).
_base_ = ['../expres/expres_vit-b16_1xb64-100e_fgvc-fewshot.py', '../_base_/baselines.py']

model = dict(backbone=dict(**_base_.finetune, readout='cls'))
optim_wrapper = _base_.finetune_optim_wrapper
