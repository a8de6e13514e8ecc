# The CPU demo's model and schedule (expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py)
# on your own data set: CustomSegRunner derives the classes, folders and class count as
# for configs/expres/*_custom-512x512.py (docs/custom_data.md). A quick first run on a
# small data set; its random demo ViT learns colours and shapes, not ImageNet features.
_base_ = ['./expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py']
runner_type = 'CustomSegRunner'
data_root = 'data/my_dataset'
classes = 'classes.txt'  # a list of names, or a file with one a line (in data_root)
train_dataloader = dict(dataset=dict(type='BaseSegDataset'))
val_dataloader = dict(dataset=dict(type='BaseSegDataset'))
test_dataloader = val_dataloader
