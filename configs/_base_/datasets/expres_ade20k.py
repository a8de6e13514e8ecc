# mmseg's ADE20K set-up, with loaders that name a corrupt file or an out-of-range
# label. The pipelines are mmseg's own with the loaders swapped (tests/test_configs.py
# checks that nothing else differs); crop_size is mmseg's.
_base_ = ['mmseg::_base_/datasets/ade20k.py']
num_classes = 150

load_annotations = dict(type='CheckedLoadAnnotations', num_classes=num_classes, reduce_zero_label=True)
train_pipeline = [dict(type='CheckedLoadImageFromFile'), load_annotations,
                  *_base_.train_pipeline[2:]]
# LoadImageFromFile stays: the inference APIs look for that name
test_pipeline = [*_base_.test_pipeline[:2], dict(load_annotations),
                 *_base_.test_pipeline[3:]]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
