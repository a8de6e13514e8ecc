# Your own data set (docs/custom_data.md): images and single-channel PNG label maps,
# by default in ADE20K's layout
#   <data_root>/images/{training,validation}/<name>.jpg
#   <data_root>/annotations/{training,validation}/<name>.png
# with mmseg's ADE20K pipelines (512x512 crops) and checked loaders. Set the variables
# below in a config of your own or with --cfg-options: CustomSegRunner writes them into
# the data sets, their metainfo, the loaders, the heads and the metric when the run is
# built (mmseg_expres/engine/runners/custom_seg.py), so the class count has one source.
_base_ = ['mmseg::_base_/datasets/ade20k.py']
runner_type = 'CustomSegRunner'

data_root = 'data/my_dataset'
# A list of names, or a text file with one name a line (relative to data_root).
classes = 'classes.txt'
# Optional: palette, img_dir, ann_dir, train_split, val_split, test_split, img_suffix,
# seg_map_suffix, reduce_zero_label; their defaults (ADE20K's layout, .jpg images, .png
# masks, no reduce_zero_label) are CustomSegRunner's CUSTOM_DEFAULTS (docs/custom_data.md).
# Placeholder until CustomSegRunner sets it to len(classes); set `classes`, not this.
num_classes = 2

seg_dataset = dict(type='BaseSegDataset')
load_annotations = dict(type='CheckedLoadAnnotations', num_classes=num_classes)
train_pipeline = [dict(type='CheckedLoadImageFromFile'), load_annotations,
                  *_base_.train_pipeline[2:]]
# LoadImageFromFile stays: the inference APIs look for that name
test_pipeline = [*_base_.test_pipeline[:2], dict(load_annotations),
                 *_base_.test_pipeline[3:]]
train_dataloader = dict(batch_size=2, dataset=dict(seg_dataset, pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, dataset=dict(seg_dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
