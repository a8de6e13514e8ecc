"""tools/analysis/gpu_check.py: every part that runs without CUDA runs here, so it cannot
rot: parity against a float64 reference, fp16 (loss-scaled) and bf16 AMP on the CPU, and
DDP with gloo (gradient averaging across two processes, then the distributed train /
resume / test / inferencer chain). Each check is shown to fail on NaN and inf."""
import importlib.util
import json
import math
import sys

import pytest
import torch

from mmseg_expres.datasets.demo_data.segmentation import make_ade20k

from .seg_runs import REPO, run_tool, tool, write_tiny_config, write_tiny_vit


@pytest.fixture(scope='module')
def gpu_check():
    spec = importlib.util.spec_from_file_location(
        'gpu_check', REPO / 'tools' / 'analysis' / 'gpu_check.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parity_passes_and_measures_a_real_difference(gpu_check):
    cpu = torch.device('cpu')
    results = gpu_check.check_parity(cpu, 'tiny')
    assert [r.check for r in results] == [f'parity: {n}'
                                          for n in gpu_check.parity_cases('tiny')]
    assert all(r.passed for r in results), results
    # fp32 against float64 differs a little, and a zero tolerance says so
    strict = gpu_check.check_parity(cpu, 'tiny', tolerance=0.0)
    assert not any(r.passed for r in strict)
    assert all('max relative error' in r.detail for r in strict)


@pytest.mark.parametrize('bad', [math.nan, math.inf])
def test_parity_fails_on_a_device_that_returns_nan_or_inf(gpu_check, monkeypatch, bad):
    """``error > worst`` never holds for NaN: the check must rank it above every number."""
    measure = gpu_check._outputs_and_prompt_grads

    def poisoned(model, images, grad):
        found = measure(model, images, grad)
        if images.dtype == torch.float32:  # the device run, not the float64 reference
            found = {k: torch.full_like(v, bad) for k, v in found.items()}
        return found
    monkeypatch.setattr(gpu_check, '_outputs_and_prompt_grads', poisoned)
    results = gpu_check.check_parity(torch.device('cpu'), 'tiny')
    assert results and not any(r.passed for r in results)
    assert all(f'max relative error {bad:.1e}' in r.detail for r in results)


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_trains_the_prompts_only_and_skips_no_late_step(gpu_check, dtype):
    run = gpu_check.amp_run(torch.device('cpu'), 'tiny', dtype, iters=6)
    assert all(torch.isfinite(torch.tensor(run['losses'])))
    assert all(run['prompts_moved'].values()) and run['vit_unchanged']
    assert not any(run['skipped'])


def test_amp_check_sees_skipped_fp16_steps(gpu_check):
    """An fp16 overflow in every step (a huge loss) shows up as skipped scaler steps."""
    run = gpu_check.amp_run(torch.device('cpu'), 'tiny', 'float16', iters=6,
                            loss_factor=1e30)
    assert all(run['skipped']) and not any(run['prompts_moved'].values())


@pytest.mark.parametrize('bad', [math.nan, math.inf])
def test_amp_check_fails_on_a_nan_or_inf_loss_or_prompt(gpu_check, bad):
    run = gpu_check.amp_run(torch.device('cpu'), 'tiny', 'bfloat16', iters=2)
    assert gpu_check.amp_passed(run) and all(run['prompts_finite'].values())
    assert not gpu_check.amp_passed(dict(run, losses=[run['losses'][0], bad]))
    name = next(iter(run['prompts_finite']))
    assert not gpu_check.amp_passed(dict(run, prompts_finite={name: False}))


@pytest.mark.parametrize('ratio, passed', [(0.5, True), (math.nan, False), (math.inf, False)])
def test_bench_targets_fail_on_nan_and_inf(gpu_check, ratio, passed):
    sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
    import benchmark
    report = dict(targets=[dict(target='EXPRES full step / fine-tuning step',
                                median_ratio=ratio, best_ratio=None, limit=0.7)])
    report = json.loads(json.dumps(report))  # as gpu_check reads benchmark.py's file
    assert [r.passed for r in gpu_check.bench_results(report)] == [passed]
    table = benchmark.targets_table([('target', ratio, None, 0.7)])
    assert table.splitlines()[-1].endswith('| yes |' if passed else '| NO |')


def test_check_amp_reports_both_dtypes(gpu_check):
    results = gpu_check.check_amp(torch.device('cpu'), 'tiny')
    assert [r.check for r in results] == ['amp: float16', 'amp: bfloat16']
    assert all(r.passed for r in results), results


@pytest.fixture(scope='module')
def ddp_check(gpu_check):
    import ddp_check  # gpu_check put its folder on the path
    return ddp_check


@pytest.mark.parametrize('bad', [math.nan, math.inf])
def test_ddp_comparison_fails_on_nan_and_inf(ddp_check, bad):
    initial = {'w': torch.zeros(3)}
    single = dict(losses=[1.0, 0.5], tensors={'w': torch.tensor([0.1, 0.2, 0.3])})
    ranks = [dict(losses=[1.0, 0.5], tensors={'w': torch.tensor([0.1, 0.2, 0.3])})
             for _ in range(2)]
    assert ddp_check.compare(ranks, single, initial)[0]
    ranks[1]['tensors']['w'][1] = bad
    passed, detail = ddp_check.compare(ranks, single, initial)
    assert not passed and 'rank 1' in detail
    ranks[1]['tensors']['w'][1] = 0.2
    ranks[0]['losses'][1] = bad
    assert not ddp_check.compare(ranks, single, initial)[0]


def test_ddp_chain_with_gloo_through_the_cli(ddp_check, tmp_path):
    out = tmp_path / 'result.json'
    result = run_tool([str(REPO / 'tools' / 'analysis' / 'gpu_check.py'), '--device', 'cpu',
                       '--checks', 'ddp', '--size', 'tiny', '--work-dir',
                       str(tmp_path / 'work'), '--json', str(out)], check=False, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads(out.read_text())['results']
    methods = len(ddp_check.METHODS)
    assert [r['check'].split(':')[0] for r in rows] == ['ddp'] * (methods + 1 + 4)
    assert all(r['passed'] for r in rows), [r for r in rows if not r['passed']]
    # Every backbone type and tuning method under a multi-level head (maps only, as
    # UperNet reads them): two gloo processes equal one process on the whole batch. A
    # method with a trainable tensor that misses the loss would stop at the second
    # iteration ("Expected to have finished reduction", MMDistributedDataParallel).
    parity, control, chain = rows[:methods], rows[methods], rows[methods + 1:]
    assert [r['check'].split(' (')[0] for r in parity] == [
        f'ddp: {method}' for method in ddp_check.METHODS]
    assert {'EXPRES', 'VPT-deep', 'LoRA', 'AdaptFormer', 'SSF', 'bias tuning',
            'fine-tuning'} <= set(ddp_check.METHODS)

    def difference(row):
        return float(row['detail'].split('max relative difference ')[1].split()[0])
    for row in parity:
        assert '2 gloo processes = one process' in row['check']
        assert difference(row) <= ddp_check.DDP_TOLERANCE
    # the control run, whose ranks keep their own gradients (all-reduce skipped), is far
    # off: the check sees a rank whose gradients are not averaged
    assert 'all-reduce skipped' in control['check']
    assert difference(control) > 100 * ddp_check.DDP_TOLERANCE
    assert '2 process(es), gloo' in chain[0]['check']
    assert 'mIoU' in chain[2]['detail'] and "on cpu" in chain[3]['detail']


def test_ddp_comparison_fails_on_a_rank_that_stopped(ddp_check):
    """What a trainable tensor without a gradient does to the ranks under DDP."""
    single = dict(losses=[1.0], tensors={'w': torch.ones(1)})
    stopped = dict(error='Expected to have finished reduction in the prior iteration')
    passed, detail = ddp_check.compare([single, stopped], single, {'w': torch.zeros(1)})
    assert not passed and detail == f'training stopped (rank 1: {stopped["error"]})'


def test_cli_refuses_bench_on_the_cpu_and_fails_on_a_failed_check(gpu_check, capsys):
    with pytest.raises(SystemExit):
        gpu_check.main(['--device', 'cpu', '--checks', 'bench'])
    assert gpu_check.main(['--device', 'cpu', '--checks', 'parity', '--size', 'tiny']) == 0
    assert gpu_check.main(['--device', 'cpu', '--checks', 'parity', '--size', 'tiny',
                           '--tolerance', '0']) == 1
    assert '| FAIL |' in capsys.readouterr().out


def test_train_amp_runs_on_the_cpu_and_saves_the_loss_scaler(tmp_path):
    """--amp: AutocastOptimWrapper (bf16 on the CPU, where MMEngine's wrapper refuses)."""
    root = make_ade20k(str(tmp_path / 'ade'), num_train=4, num_val=1, size=(32, 32))
    cfg = write_tiny_config(str(tmp_path / 'cfg.py'),
                            'expres/expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py',
                            root, write_tiny_vit(str(tmp_path / 'vit.pth')),
                            max_iters=2, ckpt_interval=2)
    run_tool([tool('train.py'), cfg, '--amp', '--work-dir', str(tmp_path / 'work')])
    state = torch.load(tmp_path / 'work' / 'iter_2.pth', map_location='cpu',
                       weights_only=True)
    assert 'loss_scaler' in state['optimizer']
    assert "type='AutocastOptimWrapper'" in (tmp_path / 'work' / 'cfg.py').read_text()
