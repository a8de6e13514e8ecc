# LoRA (rank 8 on qkv, through peft) (_base_/baselines.py) on the FGVC few-shot benchmark, with a linear head on the
# normed class token; the rest as configs/expres/expres_vit-b16_1xb64-100e_fgvc-fewshot.py.
_base_ = ['../_base_/fgvc_fewshot.py', '../_base_/baselines.py']

model = dict(backbone=dict(**_base_.vit, **_base_.lora, readout='cls'))
