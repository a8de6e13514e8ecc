"""VTAB-1k: task table, config through the real tools, checker, protocol, aggregator.

Everything runs on the tiny ViT of ``tests/conftest.py`` and generated data in the VTAB-1k
layout. The protocol runs ``tools/train.py`` in subprocesses (4 runs, shared by the
protocol tests) and one test evaluates a final checkpoint with ``tools/test.py``.
"""
import glob
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmseg_expres.datasets.vtab.benchmark import GROUPS, VTAB_TASKS, tasks_in_group
from mmseg_expres.protocols import runs

from ..conftest import TINY_VIT
from .vtab_data import make_vtab_task

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs' / 'expres/expres_vit-b16_1xb128-100e_vtab1k.py')


def load_tool(name: str):
    """Import ``tools/vtab/<name>.py`` (tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f'vtab_{name}',
                                                  REPO / 'tools' / 'vtab' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_options(batch: int = 4):
    """--cfg-options that put the config on the tiny ViT, 32 px, one epoch, no workers."""
    size = TINY_VIT['img_size']
    opts = [f'model.backbone.arch={TINY_VIT["arch"]}', f'model.backbone.img_size={size}',
            'model.backbone.pretrained=None',
            f'model.head.in_channels={TINY_VIT["vit_cfg"]["embed_dim"]}',
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'default_hooks.logger.interval=1']
    opts += [f'model.backbone.vit_cfg.{k}={v}' for k, v in TINY_VIT['vit_cfg'].items()]
    for loader in ('train', 'val', 'test'):
        opts += [f'{loader}_dataloader.dataset.pipeline.1.scale=({size},{size})',
                 f'{loader}_dataloader.batch_size={batch}',
                 f'{loader}_dataloader.num_workers=0',
                 f'{loader}_dataloader.persistent_workers=False']
    return opts


def run_tool(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


# --------------------------------------------------------------------------- tasks
def test_task_table_matches_vpt():
    expected = dict(caltech101=102, cifar=100, dtd=47, oxford_flowers102=102,
                    oxford_iiit_pet=37, svhn=10, sun397=397, patch_camelyon=2, eurosat=10,
                    resisc45=45, diabetic_retinopathy=5, clevr_count=8, clevr_dist=6,
                    dmlab=6, kitti=4, dsprites_loc=16, dsprites_ori=16, smallnorb_azi=18,
                    smallnorb_ele=9)
    assert {t.name: t.num_classes for t in VTAB_TASKS.values()} == expected
    assert [len(tasks_in_group(g)) for g in GROUPS] == [7, 4, 8]
    assert tasks_in_group('specialized') == ['patch_camelyon', 'eurosat', 'resisc45',
                                             'diabetic_retinopathy']
    assert all(t.test_size > 1000 or t.name == 'kitti' for t in VTAB_TASKS.values())


def test_runner_resolution_fails_loudly_on_a_wrong_root_or_task(tmp_path):
    from mmseg_expres.engine.runners.vtab import apply_vtab_task
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(dict(task='kitti', vtab_root=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match='check_vtab.py'):
        apply_vtab_task(cfg)
    cfg.task = 'cifar100'  # the release calls it 'cifar'
    with pytest.raises(KeyError, match="Unknown VTAB-1k task 'cifar100'"):
        apply_vtab_task(cfg)


def test_runner_refuses_a_label_outside_the_tasks_classes(tmp_path):
    """mmpretrain would fail at the first step, or train a label of another task."""
    from mmseg_expres.engine.runners.vtab import apply_vtab_task
    folder = Path(make_vtab_task(str(tmp_path), 'kitti', dict(train800=4, val200=2, test=2)))
    _edit_line(folder / 'val200.txt', 1, 'images/val200/00001.png 4')  # kitti: 4 classes
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(dict(task='kitti', vtab_root=str(tmp_path), val_split='val200'))
    with pytest.raises(ValueError, match=r'val200.txt: labels outside \[0, 4\) for a '
                                         r'4-class head: line 2: 4.*check_vtab.py'):
        apply_vtab_task(cfg)


# --------------------------------------------------------------------------- checker
@pytest.fixture(scope='module')
def clean_kitti(tmp_path_factory):
    """kitti (the smallest test split, 711) with the release's exact split sizes."""
    root = tmp_path_factory.mktemp('clean')
    make_vtab_task(str(root), 'kitti')
    return root


def _edit_line(path: Path, index: int, new: str) -> None:
    lines = path.read_text().splitlines()
    lines[index] = new
    path.write_text('\n'.join(lines) + '\n')


def _first(path: Path) -> str:
    return path.read_text().splitlines()[0]


def _short_split(task: Path) -> None:
    lines = (task / 'test.txt').read_text().splitlines()[:-1]
    (task / 'test.txt').write_text('\n'.join(lines) + '\n')


def _label_out_of_range(task: Path) -> None:
    for split in ('train800', 'train800val200'):
        _edit_line(task / f'{split}.txt', 0, _first(task / 'train800.txt').split()[0] + ' 4')


def _missing_image(task: Path) -> None:
    (task / _first(task / 'val200.txt').split()[0]).unlink()


def _same_path_in_test(task: Path) -> None:
    _edit_line(task / 'test.txt', 3, _first(task / 'train800.txt'))


def _same_bytes_in_test(task: Path) -> None:
    shutil.copy(task / _first(task / 'train800.txt').split()[0],
                task / _first(task / 'test.txt').split()[0])


def _unreadable_image(task: Path) -> None:
    (task / _first(task / 'test.txt').split()[0]).write_bytes(b'\x89PNG\r\n\x1a\n broken')


@pytest.mark.parametrize('plant, message', [
    (_short_split, 'test.txt has 710 entries, expected 711'),
    (_label_out_of_range, 'labels outside [0, 4) for kitti: line 1: 4'),
    (_missing_image, 'missing or unreadable images: images/val200/00000.png (cannot read'),
    (_same_path_in_test, 'train800 and test list the same paths: images/train800/00000.png'),
    (_same_bytes_in_test, 'training images identical to test images: '
     'images/train800/00000.png = test images/test/00000.png'),
    (_unreadable_image, 'images/test/00000.png (cannot decode'),
])
def test_checker_finds_planted_fault(clean_kitti, tmp_path, plant, message):
    check = load_tool('check_vtab')
    shutil.copytree(clean_kitti, tmp_path, dirs_exist_ok=True)
    plant(tmp_path / 'kitti')
    problems = check.check_task(str(tmp_path), 'kitti')
    assert any(message in p for p in problems), problems


def test_checker_reports_every_problem_and_exits_non_zero(clean_kitti, tmp_path, capsys):
    shutil.copytree(clean_kitti, tmp_path, dirs_exist_ok=True)
    _short_split(tmp_path / 'kitti')
    _missing_image(tmp_path / 'kitti')
    check = load_tool('check_vtab')
    capsys.readouterr()
    assert check.main([str(tmp_path), '--tasks', 'kitti', 'dtd']) == 1
    out = capsys.readouterr().out
    assert 'expected 711' in out and 'images/val200/00000.png' in out
    assert 'dtd is missing' in out and '3 problem(s) in 2 task(s)' in out
    assert check.main([str(clean_kitti), '--tasks', 'kitti']) == 0


# -------------------------------------------------------------------------- protocol
def test_select_best_breaks_ties_towards_the_smaller_lr():
    select_best = load_tool('run_protocol').select_best
    grid = {'a': dict(lr=1.0, wd=0.0, val_top1=50.0), 'b': dict(lr=0.5, wd=0.01, val_top1=50.0),
            'c': dict(lr=0.5, wd=0.0, val_top1=50.0), 'd': dict(lr=5.0, wd=0.0, val_top1=40.0)}
    assert select_best(grid) == grid['c']
    grid['d']['val_top1'] = float('nan')  # max() would skip it silently
    with pytest.raises(ValueError, match='non-finite val_top1'):
        select_best(grid)


@pytest.mark.parametrize('record', ['{"loss": NaN, "step": 3}', '{"loss": Infinity, "step": 3}',
                                    '{"accuracy/top1": NaN, "step": 5}'])
def test_a_diverged_run_is_not_recorded(tmp_path, record):
    """A run whose loss went NaN still logs a finite top-1 of a broken model."""
    scalars = tmp_path / 'run' / '20240101_000000' / 'vis_data' / 'scalars.json'
    scalars.parent.mkdir(parents=True)
    scalars.write_text('{"loss": 2.3, "step": 1}\n' + record + '\n'
                       '{"accuracy/top1": 25.0, "step": 5}\n')
    with pytest.raises(RuntimeError, match='diverged'):
        runs.read_final_metric(str(tmp_path / 'run'))
    scalars.write_text('{"loss": 2.3, "step": 1}\n{"accuracy/top1": 25.0, "step": 5}\n')
    assert runs.read_final_metric(str(tmp_path / 'run')) == 25.0


@pytest.fixture(scope='module')
def protocol_run(tmp_path_factory):
    """The protocol on kitti, tiny ViT: 2 x 1 grid and 2 seeds, i.e. 4 tools/train.py runs."""
    tmp = tmp_path_factory.mktemp('protocol')
    root, work = tmp / 'vtab', tmp / 'work'
    make_vtab_task(str(root), 'kitti', dict(train800=8, val200=4, test=6), image_size=12)
    protocol = load_tool('run_protocol')
    argv = ['--vtab-root', str(root), '--tasks', 'kitti', '--work-dir', str(work),
            '--lrs', '0.1', '0.05', '--wds', '0', '--seeds', '42', '44',
            '--cfg-options', *tiny_options()]
    protocol.main(argv)
    return protocol, argv, root, work


def test_protocol_selects_retrains_and_records(protocol_run):
    protocol, _, root, work = protocol_run
    results = json.loads((work / 'results.json').read_text())['tasks']['kitti']
    assert set(results['grid']) == {'lr0.1_wd0', 'lr0.05_wd0'}
    assert all(0 <= r['val_top1'] <= 100 for r in results['grid'].values())
    assert results['best'] == protocol.select_best(results['grid'])
    best = results['best']
    names = {f'lr{best["lr"]:g}_wd0_seed{s}' for s in (42, 44)}
    assert set(results['final']) == names
    tests = [r['test_top1'] for r in results['final'].values()]
    assert results['test_top1_mean'] == pytest.approx(sum(tests) / 2)
    assert not glob.glob(str(work / 'kitti' / 'grid' / '*' / '*.pth'))  # dropped

    # The runs are tools/train.py on the config with task=kitti: VtabRunner re-derived the
    # 4-way head (not caltech101's 102) and the folders and list files of each phase.
    grid = Config.fromfile(work / 'kitti' / 'grid' / 'lr0.1_wd0' / 'expres_vit-b16_1xb128-100e_vtab1k.py')
    assert grid.model.head.num_classes == grid.num_classes == 4
    assert grid.train_dataloader.dataset.data_root == f'{root}/kitti'
    assert grid.train_dataloader.dataset.ann_file == 'train800.txt'
    assert grid.val_dataloader.dataset.ann_file == 'val200.txt'
    name = sorted(names)[0]
    final = Config.fromfile(work / 'kitti' / 'final' / name / 'expres_vit-b16_1xb128-100e_vtab1k.py')
    assert final.train_dataloader.dataset.ann_file == 'train800val200.txt'
    assert final.val_dataloader.dataset.ann_file == 'test.txt'
    assert final.randomness.seed == int(name.rsplit('seed', 1)[1])
    assert final.optim_wrapper.optimizer.lr == best['lr']


def test_tools_test_reproduces_the_recorded_test_accuracy(protocol_run, tmp_path):
    _, _, root, work = protocol_run
    results = json.loads((work / 'results.json').read_text())['tasks']['kitti']
    name, record = sorted(results['final'].items())[0]
    checkpoint = work / 'kitti' / 'final' / name / 'epoch_1.pth'
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
    assert state['head.fc.weight'].shape == (4, TINY_VIT['vit_cfg']['embed_dim'])
    assert not any(k.startswith('backbone.vit.') for k in state)  # a task checkpoint

    run_tool('tools/test.py', CONFIG, str(checkpoint), '--work-dir', str(tmp_path),
             '--cfg-options', 'task=kitti', f'vtab_root={root}', *tiny_options())
    metrics = json.loads(open(glob.glob(str(tmp_path / '*' / '*.json'))[0]).read())
    assert metrics['accuracy/top1'] == pytest.approx(record['test_top1'])
    correct = metrics['accuracy/top1'] * 6 / 100  # top-1 over the 6 test images
    assert correct == pytest.approx(round(correct), abs=1e-3)


def test_protocol_rerun_skips_finished_runs(protocol_run, monkeypatch, capsys):
    protocol, argv, _, work = protocol_run
    # A rerun starts nothing; a run that finished unrecorded is read from its folder.
    data = json.loads((work / 'results.json').read_text())
    recorded = data['tasks']['kitti']['final']
    dropped = sorted(recorded)[0]
    expected = recorded.pop(dropped)
    (work / 'results.json').write_text(json.dumps(data))

    def no_runs(*args, **kwargs):
        raise AssertionError(f'finished run started again: {args}')

    monkeypatch.setattr(runs.subprocess, 'run', no_runs)
    capsys.readouterr()
    protocol.main(argv)
    assert '...' not in capsys.readouterr().out
    again = json.loads((work / 'results.json').read_text())['tasks']['kitti']
    assert again['final'][dropped] == expected

    # Other settings must not mix with these results.
    with pytest.raises(SystemExit, match='other settings'):
        protocol.main(argv + ['train_cfg.max_epochs=2'])


def test_protocol_dry_run_prints_grid_commands_only(tmp_path, capsys):
    protocol = load_tool('run_protocol')
    protocol.main(['--vtab-root', str(tmp_path), '--tasks', 'dtd', '--work-dir',
                   str(tmp_path / 'w'), '--lrs', '1', '2', '--wds', '0.001', '--dry-run',
                   '--launcher', 'slurm', '--partition', 'gpu', '--gpus', '2'])
    out = capsys.readouterr().out.splitlines()
    commands = [line for line in out if line.startswith('env GPUS=2 ')]
    assert len(commands) == 2
    assert all('tools/slurm_train.sh gpu vtab_dtd ' in c and 'train_split=train800' in c
               for c in commands)
    assert 'optim_wrapper.optimizer.lr=2.0' in commands[1]
    assert any('final runs depend on the grid' in line for line in out)
    assert not (tmp_path / 'w' / 'results.json').exists()


def test_noah_protocol_runs_the_final_runs_only_with_noahs_settings(tmp_path, capsys):
    """ZhangYuanhan-AI/NOAH e9c55f3, configs/LoRA/VTAB/slurm_train_lora_vtab.sh: one lr
    (1e-3) and weight decay (1e-4) for every task, batch 64, 100 epochs, no selection."""
    protocol = load_tool('run_protocol')
    protocol.main(['--vtab-root', str(tmp_path), '--tasks', 'dtd', '--work-dir',
                   str(tmp_path / 'w'), '--protocol', 'noah', '--seeds', '42', '44',
                   '--dry-run'])
    commands = [line for line in capsys.readouterr().out.splitlines() if 'train.py' in line]
    assert len(commands) == 2 and all('/final/lr0.001_wd0.0001_seed' in c for c in commands)
    assert all('train_split=train800val200' in c and 'optim_wrapper.optimizer.type=AdamW'
               in c and 'model.backbone.vit_cfg.drop_path_rate=0.1' in c for c in commands)
    with pytest.raises(SystemExit):  # NOAH selects nothing: one lr and weight decay
        protocol.parse_args(['--vtab-root', 'x', '--tasks', 'dtd', '--protocol', 'noah',
                             '--lrs', '0.001', '0.01'])


def test_noah_protocol_builds_adamw_at_lr_1e3_batch_64_and_drop_path_01(tmp_path):
    """What a run of the NOAH protocol gets: AdamW (no SGD momentum left), lr 1e-3 and
    weight decay 1e-4 not rescaled, batch 64 in every loader, warm-up from 1e-6 and a
    cosine to 1e-5 (timm's --warmup-lr and --min-lr defaults), drop-path rising to 0.1."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, DefaultScope

    from mmseg_expres.apis.runner_setup import load_config, parse_cfg_options
    from mmseg_expres.protocols.vtab_protocols import PROTOCOLS
    make_vtab_task(str(tmp_path), 'dtd', dict(train800=2, val200=2, test=2), image_size=12)
    run = load_tool('run_protocol').run_options(
        'train800val200', 'test', 1e-3, 1e-4, 42, protocol=PROTOCOLS['noah'].options)
    config = str(REPO / 'configs' / 'baselines' / 'lora_vit-b16_1xb128-100e_vtab1k.py')
    cfg = load_config(config, parse_cfg_options([
        'task=dtd', f'vtab_root={tmp_path}', *run,
        *[o for o in tiny_options() if o.startswith('model.')]]))
    assert not cfg.auto_scale_lr.enable
    assert {cfg[f'{s}_dataloader'].batch_size for s in ('train', 'val', 'test')} == {64}
    warmup, cosine = cfg.param_scheduler
    assert warmup.start_factor * 1e-3 == pytest.approx(1e-6) and cosine.eta_min == 1e-5
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
        optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    assert type(optimizer).__name__ == 'AdamW'
    assert {(g['lr'], g['weight_decay']) for g in optimizer.param_groups} == {(1e-3, 1e-4)}
    rates = [b.drop_path1.drop_prob for b in model.backbone.vit.blocks[1:]]
    assert rates[-1] == pytest.approx(0.1) and rates == sorted(rates)


def test_noah_protocol_trains_and_records_a_peft_baseline(tmp_path):
    """One NOAH run end to end (tools/train.py on the LoRA config, tiny ViT, drop-path
    acting): recorded without a grid, with NOAH's lr and the protocol in the settings."""
    root, work = tmp_path / 'vtab', tmp_path / 'work'
    make_vtab_task(str(root), 'kitti', dict(train800=4, val200=4, test=4), image_size=12)
    config = REPO / 'configs' / 'baselines' / 'lora_vit-b16_1xb128-100e_vtab1k.py'
    load_tool('run_protocol').main([
        '--vtab-root', str(root), '--tasks', 'kitti', '--work-dir', str(work),
        '--protocol', 'noah', '--seeds', '42', '--config', str(config),
        '--cfg-options', *tiny_options()])
    data = json.loads((work / 'results.json').read_text())
    assert data['settings']['protocol'] == 'noah'
    results = data['tasks']['kitti']
    assert not results['grid'] and 'best' not in results
    assert list(results['final']) == ['lr0.001_wd0.0001_seed42']
    dumped = Config.fromfile(work / 'kitti' / 'final' / 'lr0.001_wd0.0001_seed42' /
                             config.name)
    assert dumped.optim_wrapper.optimizer == dict(type='AdamW', lr=1e-3, weight_decay=1e-4)


def test_the_protocol_selects_k_from_vpts_set_when_asked(tmp_path, capsys):
    protocol = load_tool('run_protocol')
    protocol.main(['--vtab-root', str(tmp_path), '--tasks', 'dtd', '--work-dir',
                   str(tmp_path / 'w'), '--lrs', '1', '--wds', '0', '--num-tokens',
                   *map(str, protocol.VPT_NUM_TOKENS), '--dry-run'])
    commands = [line for line in capsys.readouterr().out.splitlines() if 'train.py' in line]
    assert [c.rsplit('model.backbone.num_tokens=', 1)[1] for c in commands] == \
        ['1', '5', '10', '50', '100', '200']
    grid = {k: dict(lr=1.0, wd=0.0, num_tokens=k, val_top1=50.0) for k in (50, 5, 100)}
    assert protocol.select_best(grid)['num_tokens'] == 5  # ties: the fewer prompts


# ------------------------------------------------------------------------ aggregator
def _hand_made_results(tasks):
    """Task i of a group gets seeds [base + i - 1, base + i + 1] (mean base + i)."""
    base = dict(natural=70.0, specialized=80.0, structured=50.0)
    results = dict(tasks={})
    for group in GROUPS:
        for i, task in enumerate(tasks_in_group(group)):
            if task not in tasks:
                continue
            mean = base[group] + (2 * i if group == 'specialized' else i)
            results['tasks'][task] = dict(
                best=dict(lr=1.0, wd=0.0, val_top1=60.0),
                final={f'lr1_wd0_seed{s}': dict(lr=1.0, wd=0.0, seed=s, test_top1=v)
                       for s, v in ((42, mean - 1), (44, mean + 1))})
    return results


def test_aggregator_means_are_exact(tmp_path, capsys):
    aggregate = load_tool('aggregate')
    summary = aggregate.summarise(_hand_made_results(list(VTAB_TASKS)))
    # natural 70..76 -> 73; specialized 80, 82, 84, 86 -> 83; structured 50..57 -> 53.5
    assert summary['groups'] == dict(natural=73.0, specialized=83.0, structured=53.5)
    assert summary['mean_of_groups'] == pytest.approx((73.0 + 83.0 + 53.5) / 3, abs=1e-12)
    assert summary['flat_mean'] == pytest.approx((7 * 73 + 4 * 83 + 8 * 53.5) / 19,
                                                 abs=1e-12)
    assert summary['tasks']['dtd'] == 72.0  # third natural task: 70 + 2

    path = tmp_path / 'results.json'
    path.write_text(json.dumps(_hand_made_results(list(VTAB_TASKS))))
    aggregate.main([str(path)])
    out = capsys.readouterr().out
    assert '73.00' in out and '83.00' in out and '53.50' in out
    assert '69.83' in out and '66.89' in out
    assert 'EXPRES (paper)' in out and '79.69' in out and '72.90' in out  # mean of groups
    assert 'VPT-deep (paper)' in out and '54.98' in out and '71.96' in out


def test_aggregator_marks_incomplete_groups():
    aggregate = load_tool('aggregate')
    results = _hand_made_results(['cifar', 'dtd', 'kitti'])
    summary = aggregate.summarise(results)
    assert summary['group_counts'] == dict(natural=2, specialized=0, structured=1)
    assert summary['mean_of_groups'] is None
    assert summary['flat_mean'] == pytest.approx((70 + 72 + 53) / 3)
    assert '(2/7)' in aggregate.format_table(results, summary)
