# Everything a few-shot segmentation config shares but the data set and the optimiser:
# the episodic loaders and metric, the few-shot segmentor on the frozen ViT-B/16 with
# EXPRES prompts (full visibility: the prompts steer the patch features the head
# compares), and the meta-training schedule, which a leaf takes over from
# expres_seg_runtime.py (three lines; MMEngine refuses two bases that set one key).
# A data set base (_base_/datasets/expres_{pascal5i,coco20i}.py) names the folders and
# lists; FewShotSegRunner writes them, and fold and shot, into the loaders when it is
# built, so `--cfg-options fold=2 shot=5` works (docs/fewshot.md).
_base_ = ['./models/expres_vit-b16.py']
custom_imports = dict(imports=[
    'mmseg_expres.models', 'mmseg_expres.engine', 'mmseg_expres.datasets',
    'mmseg_expres.models.fewshot_seg', 'mmseg_expres.evaluation'],
    allow_failed_imports=False)
runner_type = 'FewShotSegRunner'

# The variables FewShotSegRunner resolves (--cfg-options may set them):
fold = 0            # 0..3
shot = 1            # K of the test episodes (1 or 5)
num_episodes = 1000  # test episodes per fold, as in PFENet / HSNet
episode_seed = 0    # the same seed tests exactly the same episodes
coco_split = 'interleaved'  # COCO-20i folds: 'interleaved' (4k+i+1) or 'blocks'
min_pixels = 2 * 32 * 32    # PFENet's filter: an image counts for a class it covers this much
train_shot = 1      # meta-training episodes; one model per fold is tested at 1 and 5 shots

crop_size = (480, 480)
meta_iters = 20000
meta_warmup_iters = 500
# Every image of an episode is resized to crop_size (no padding: episodes stack).
# The query's test mask is loaded after the resize, so the metric runs at the original
# resolution (BaseSegmentor.postprocess_result resizes the logits back to ori_shape);
# the supports' masks are loaded before it, so they match the resized images.
resize = dict(type='Resize', scale=crop_size, keep_ratio=False)
load_binary_mask = [dict(type='LoadAnnotations'),
                    dict(type='EpisodeBinaryMask')]
support_pipeline = [dict(type='LoadImageFromFile'), *load_binary_mask, resize,
                    dict(type='PackSegInputs')]
train_pipeline = [dict(type='LoadImageFromFile'), *load_binary_mask, resize,
                  dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), resize, *load_binary_mask,
                 dict(type='PackSegInputs')]
episodes = dict(type='FewShotSegDataset', support_pipeline=support_pipeline)
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(episodes, mode='train', shot=train_shot, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(episodes, mode='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FewShotSegMetric')
test_evaluator = val_evaluator

model = dict(
    type='FewShotSegmentor',
    data_preprocessor=dict(type='EpisodeDataPreProcessor'),
    backbone=dict(img_size=crop_size),  # ExpresViT's default visibility: 'full'
    decode_head=dict(type='PrototypeMatchingHead', in_channels=_base_.embed_dims,
                     num_levels=len(_base_.out_indices), channels=64))

# Meta-training on base-class episodes (this project's schedule, untuned): the AdamW of
# expres_seg_runtime.py, linear warm-up then poly decay; evaluated once, at the end.
meta_param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=meta_warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=meta_warmup_iters,
         end=meta_iters),
]
meta_train_cfg = dict(type='IterBasedTrainLoop', max_iters=meta_iters, val_interval=meta_iters)
meta_default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=2))
