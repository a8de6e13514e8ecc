"""tools/analysis/gpu_check.py: every part that runs without CUDA runs here, so it cannot
rot: parity against a float64 reference, fp16 (loss-scaled) and bf16 AMP on the CPU, and
the distributed train / resume / test / inferencer chain with gloo."""
import importlib.util
import json

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


def test_check_amp_reports_both_dtypes(gpu_check):
    results = gpu_check.check_amp(torch.device('cpu'), 'tiny')
    assert [r.check for r in results] == ['amp: float16', 'amp: bfloat16']
    assert all(r.passed for r in results), results


def test_ddp_chain_with_gloo_through_the_cli(tmp_path):
    out = tmp_path / 'result.json'
    result = run_tool([str(REPO / 'tools' / 'analysis' / 'gpu_check.py'), '--device', 'cpu',
                       '--checks', 'ddp', '--work-dir', str(tmp_path / 'work'),
                       '--json', str(out)], check=False, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads(out.read_text())['results']
    assert [r['check'].split(':')[0] for r in rows] == ['ddp'] * 4
    assert all(r['passed'] for r in rows)
    assert 'mIoU' in rows[2]['detail'] and "on cpu" in rows[3]['detail']


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
