"""The config a custom-data run dumps says what ran: the user's iterations and classes,
every checked loader's class count, none of the template's variables."""
from pathlib import Path
from types import SimpleNamespace

from mmengine.config import Config

from mmseg_expres.apis import load_config
from mmseg_expres.datasets.demo_data.segmentation import make_custom
from mmseg_expres.engine.runners.custom_seg import CustomSegRunner, _checked_loaders

DEMO = str(Path(__file__).resolve().parents[2] / 'configs' / 'demo' /
           'expres_vit-demo_upernet_1xb4-300it_custom-128x128.py')


def test_dump_holds_what_ran_and_loads_back(tmp_path):
    data = make_custom(str(tmp_path / 'data'), num_train=1, num_val=1, size=(8, 8))
    user = tmp_path / 'my_config.py'
    user.write_text(f"_base_ = [{DEMO!r}]\ndata_root = {data!r}\n"
                    "classes = ['a', 'b', 'c']\n"
                    "train_cfg = dict(max_iters=20, val_interval=10)\n")
    cfg = load_config(str(user))
    # every checked loader (the loaders' and the pipeline variables') counts 3 classes
    steps = [s for key in cfg for s in _checked_loaders(cfg[key])]
    assert len(steps) >= 5 and {(s.num_classes, s.reduce_zero_label) for s in steps} == \
        {(3, False)}
    runner = SimpleNamespace(cfg=cfg, work_dir=str(tmp_path), timestamp='t')
    CustomSegRunner.dump_config(runner)
    text = (tmp_path / 'my_config.py').read_text()
    assert text.startswith('# The config of this run as it ran (SimpleNamespace): the data '
                           'set, its 3 classes')
    for stale in ('max_iters = 300', "dataset_type = 'ADE20KDataset'", 'num_classes=150',
                  'warmup_iters = 40'):
        assert stale not in text
    dumped = Config.fromfile(str(tmp_path / 'my_config.py'))
    assert dumped.train_cfg.max_iters == 20 and dumped.num_classes == 3
    assert dumped.classes == ['a', 'b', 'c']
    assert [s for s in dumped.test_pipeline if s.type == 'CheckedLoadAnnotations'][0] \
        .num_classes == 3
    assert dumped.model.decode_head.num_classes == 3
    # read again by the tools, the dump resolves to the same run
    again = load_config(str(tmp_path / 'my_config.py'))
    assert again.train_dataloader == cfg.train_dataloader and again.model == cfg.model
