"""tools/fewshot/run_protocol.py end to end: real tools/train.py runs on generated data."""
import glob
import json

import pytest
from mmengine.config import Config

from .fewshot_data import DEMO_CONFIG, load_tool, make_folder

# 2 epochs, test at the end; the demo config presets no class count
SHORT = ['custom_num_classes=4', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=2']


@pytest.fixture(scope='module')
def protocol_run(tmp_path_factory):
    """'toy' (4 classes, 3 test images each): shots 1 and 2 of seed 0, two training runs."""
    tmp = tmp_path_factory.mktemp('protocol')
    root, work = tmp / 'data', tmp / 'work'
    make_folder(str(root), 'toy', dict(train=3, test=3), (1, 2), (0, 1),
                custom_num_classes=4)
    protocol = load_tool('run_protocol')
    argv = ['--fewshot-root', str(root), '--datasets', 'toy', '--shots', '1', '2',
            '--seeds', '0', '--config', DEMO_CONFIG, '--work-dir', str(work),
            '--cfg-options', *SHORT]
    protocol.main(argv)
    return protocol, argv, root, work


def test_every_shot_runs_on_its_list_and_is_recorded(protocol_run):
    _, _, root, work = protocol_run
    results = json.loads((work / 'results.json').read_text())
    assert results['settings']['cfg_options'] == SHORT
    recorded = results['datasets']['toy']
    assert set(recorded) == {'shot1_seed0', 'shot2_seed0'}
    for name, run in recorded.items():
        assert (run['shot'], run['seed']) == (int(name[4]), 0)
        correct = run['test_top1'] * 12 / 100  # top-1 over the 12 test images
        assert correct == pytest.approx(round(correct), abs=1e-3)
        # tools/train.py ran the demo config; FewShotRunner resolved the list and head.
        cfg = Config.fromfile(work / 'toy' / name / 'expres_vit-demo_1xb4-100e_fgvc-fewshot.py')
        assert cfg.model.head.num_classes == cfg.num_classes == 4
        assert cfg.train_dataloader.dataset.ann_file == \
            f'annotations/train_meta.list.num_shot_{run["shot"]}.seed_0'
        assert cfg.train_dataloader.dataset.data_root == f'{root}/toy'
        assert cfg.val_dataloader.dataset.ann_file == 'annotations/test_meta.list'
        assert cfg.randomness.seed == 0  # NOAH's fixed training seed; the list seed varies
    assert not glob.glob(str(work / 'toy' / '*' / '*.pth'))  # dropped once recorded


def test_rerun_skips_recorded_runs_and_recovers_unrecorded_ones(protocol_run, capsys):
    protocol, argv, _, work = protocol_run
    data = json.loads((work / 'results.json').read_text())
    expected = data['datasets']['toy'].pop('shot2_seed0')  # finished, then killed
    (work / 'results.json').write_text(json.dumps(data))
    capsys.readouterr()
    # --dry-run prints the command of every run still to run, and records finished ones.
    protocol.main(argv + ['--dry-run'])
    assert 'train.py' not in capsys.readouterr().out
    again = json.loads((work / 'results.json').read_text())['datasets']['toy']
    assert again['shot2_seed0'] == expected
    with pytest.raises(SystemExit, match='other settings'):
        protocol.main(argv[:-1])  # other --cfg-options: not comparable


def test_aggregator_prints_the_recorded_runs(protocol_run, capsys):
    _, _, _, work = protocol_run
    results = json.loads((work / 'results.json').read_text())['datasets']['toy']
    load_tool('aggregate').main([str(work / 'results.json')])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith('expres'))
    assert row.split() == [
        'expres', f'{results["shot1_seed0"]["test_top1"]:.2f}', '±0.00',
        f'{results["shot2_seed0"]["test_top1"]:.2f}', '±0.00']


def test_missing_lists_stop_the_protocol_before_any_run(protocol_run, tmp_path, capsys):
    protocol, _, root, _ = protocol_run
    base = ['--fewshot-root', str(root), '--config', DEMO_CONFIG, '--work-dir',
            str(tmp_path), '--cfg-options', 'custom_num_classes=4']
    with pytest.raises(SystemExit):
        protocol.main(base + ['--datasets', 'toy', '--shots', '1', '4', '--seeds', '0', '1'])
    err = capsys.readouterr().err
    assert 'list files are missing, nothing was run' in err
    assert err.count('No 4-shot list') == 2 and 'shots 1 (seeds 0, 1); 2 (seeds 0, 1)' in err
    with pytest.raises(SystemExit):
        protocol.main(base + ['--datasets', 'oxford-pets'])  # a benchmark: 37 classes
    assert 'custom_num_classes is only for data sets of your own' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        protocol.main(base + ['--datasets', 'toy2'])
    assert 'toy2 does not exist' in capsys.readouterr().err
    assert not (tmp_path / 'results.json').exists()


def test_dry_run_prints_the_commands_and_runs_nothing(protocol_run, tmp_path, capsys):
    protocol, _, root, _ = protocol_run
    protocol.main(['--fewshot-root', str(root), '--datasets', 'toy', '--shots', '1',
                   '--seeds', '0', '1', '--config', DEMO_CONFIG, '--work-dir',
                   str(tmp_path), '--dry-run', '--launcher', 'slurm', '--partition', 'gpu',
                   '--cfg-options', 'custom_num_classes=4'])
    commands = [line for line in capsys.readouterr().out.splitlines()
                if line.startswith('env GPUS=1 ')]
    assert len(commands) == 2
    assert all('tools/slurm_train.sh gpu fewshot_toy ' in c and 'dataset=toy' in c and
               'shot=1' in c for c in commands)
    assert 'seed=1' in commands[1] and not (tmp_path / 'results.json').exists()
