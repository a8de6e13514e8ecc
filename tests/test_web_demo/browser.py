"""What the browser test needs: tiny models on disk, the page's server, headless Chromium.

Nothing here downloads a browser: Selenium drives Debian's /usr/bin/chromium through
/usr/bin/chromedriver (tools/setup_env.sh installs both).
"""
import io
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image

from mmseg_expres.apis import init_model
from mmseg_expres.models.backbones import create_timm_vit

from ..test_tools.seg_runs import REPO, write_tiny_config, write_tiny_vit

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
ADE_CONFIG = 'expres/expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py'
FEWSHOT_CONFIG = REPO / 'configs' / 'demo' / 'expres_vit-demo_proto_1xb4-400it_pascal5i-480x480.py'
#: Set to a folder (e.g. docs/images) to copy the test's screenshots there.
SCREENSHOTS_ENV = 'MMSEG_EXPRES_SCREENSHOTS'


def missing_dependencies() -> List[str]:
    """What the browser test lacks, to say why it is skipped."""
    missing = []
    for module in ('gradio', 'selenium'):
        try:
            __import__(module)
        except ImportError:
            missing.append(f'{module} (pip install -e ".[demo]" and requirements/tests.txt)')
    missing += [f'{path} (apt-get install chromium chromium-driver)'
                for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    return missing


def write_segmentor(tmp: str) -> tuple:
    """A tiny UperNet segmentor: its config, full checkpoint (ADE20K's classes), model."""
    from mmseg.datasets import ADE20KDataset
    vit = write_tiny_vit(osp.join(tmp, 'vit.pth'))
    config = write_tiny_config(osp.join(tmp, 'segment.py'), ADE_CONFIG, tmp, vit)
    model = init_model(config)
    torch.manual_seed(0)
    for param in model.decode_head.conv_seg.parameters():  # a varied prediction to draw
        torch.nn.init.normal_(param, std=1.0)
    meta = dict(dataset_meta=dict(ADE20KDataset.METAINFO))
    checkpoint = osp.join(tmp, 'segment.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=meta), checkpoint)
    model.dataset_meta = meta['dataset_meta']  # as init_model sets it from the checkpoint
    return config, checkpoint, model


def write_fewshot_segmentor(tmp: str) -> tuple:
    """The few-shot demo config on a random ViT, a checkpoint of its initial state, the
    model."""
    backbone = Config.fromfile(str(FEWSHOT_CONFIG)).model.backbone
    torch.manual_seed(0)
    vit = create_timm_vit(backbone.arch, backbone.img_size, backbone.vit_cfg)
    torch.save(vit.state_dict(), osp.join(tmp, 'fewshot_vit.pth'))
    config = osp.join(tmp, 'fewshot.py')
    with open(config, 'w', encoding='utf-8') as f:
        f.write(f'_base_ = [{str(FEWSHOT_CONFIG)!r}]\n'
                f"model = dict(backbone=dict(pretrained={osp.join(tmp, 'fewshot_vit.pth')!r}))\n")
    model = init_model(config)
    meta = dict(dataset_meta=dict(classes=('background', 'object')))
    checkpoint = osp.join(tmp, 'fewshot.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=meta), checkpoint)
    return config, checkpoint, model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_server(args: List[str], port: int, log: str) -> subprocess.Popen:
    """tools/web_demo.py with ``args`` on ``port``, started (see :func:`wait_for_page`)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', GRADIO_ANALYTICS_ENABLED='False')
    with open(log, 'w', encoding='utf-8') as out:
        return subprocess.Popen([sys.executable, str(REPO / 'tools' / 'web_demo.py'), *args,
                                 '--port', str(port)], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def wait_for_page(server: subprocess.Popen, port: int, log: str, timeout: float = 180) -> None:
    """Return once the page answers on ``port``; fail with the server's log if it dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f'the page did not start:\n{open(log).read()[-5000:]}')
        try:
            urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f'no page on port {port} after {timeout} s:\n{open(log).read()[-5000:]}')


def chromium(user_data_dir: str):
    """Headless Chromium (the system's), isolated and quiet on the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync',
                 f'--user-data-dir={user_data_dir}', '--window-size=1280,1200'):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def fetch_png(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=10) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())))


def save_screenshot(driver, path: str) -> None:
    """The window as a PNG at ``path``, copied to $MMSEG_EXPRES_SCREENSHOTS when set."""
    driver.save_screenshot(path)
    target: Optional[str] = os.environ.get(SCREENSHOTS_ENV)
    if target:
        os.makedirs(target, exist_ok=True)
        shutil.copy(path, target)
