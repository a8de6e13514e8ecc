"""tools/web_demo.py --tasks in headless Chromium: the Segment tab's task selector on two
task checkpoints trained on different generated data sets (one frozen ViT); each task's
mask and picture equal what its checkpoint alone gives (``inference_model``)."""
import shutil

import numpy as np
import pytest
from PIL import Image

from ..test_tools.task_models import write_two_tasks
from .browser import (chromium, click, fetch_png, free_port, missing_dependencies,
                      start_server, wait_for, wait_for_page)
from .test_page_in_browser import script_errors, upload

pytestmark = pytest.mark.skipif(
    bool(missing_dependencies()),
    reason='the browser test needs ' + '; '.join(missing_dependencies()))


@pytest.fixture(scope='module')
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('web_demo_tasks')
    two = write_two_tasks(tmp / 'tasks')
    port, log = free_port(), str(tmp / 'server.log')
    server = start_server([two.config, '--tasks', two.task_arg('ade'), two.task_arg('city')],
                          port, log)
    driver = None
    try:
        driver = chromium(str(tmp / 'chromium-profile'))
        wait_for_page(server, port, log)
        driver.get(f'http://127.0.0.1:{port}/')
        wait_for(driver, '#segment-task input[type=radio]')
        yield dict(driver=driver, tmp=tmp, two=two)
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)


def test_each_chosen_task_answers_as_its_checkpoint_alone(page):
    from selenium.webdriver.common.by import By
    from mmseg.apis import inference_model

    from mmseg_expres.apis import init_model
    from mmseg_expres.visualization import overlay
    from mmseg_expres.web_demo import SegmentDemo
    from mmseg_expres.web_demo.examples import segment_examples
    driver, tmp, two = page['driver'], page['tmp'], page['two']
    radios = driver.find_elements(By.CSS_SELECTOR, '#segment-task input[type=radio]')
    assert [r.get_attribute('value') for r in radios] == ['ade', 'city']
    scene = segment_examples(str(tmp / 'examples'), count=1, size=(40, 48))[0]
    labels = {}
    for task in ('city', 'ade'):  # the second task: not the page's first choice
        path = str(tmp / f'for_{task}.png')  # each run's files named apart
        shutil.copy(scene, path)
        driver.find_element(By.CSS_SELECTOR, f'#segment-task input[value="{task}"]').click()
        upload(driver, 'segment-images', path)
        wait_for(driver, f'#segment-images a[href*="for_{task}"]')
        click(driver, 'segment-run')
        link, = wait_for(driver, f'#segment-files a[href*="for_{task}_mask"]')
        shown = fetch_png(wait_for(driver, '#segment-gallery img')[0].get_attribute('src'))
        alone = init_model(*two.alone(task))
        label = inference_model(alone, path).pred_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(fetch_png(link.get_attribute('href')), label)
        np.testing.assert_array_equal(
            shown[..., :3], overlay(np.asarray(Image.open(path)), label,
                                    SegmentDemo(alone).palette))
        assert f'Task: {task}' in driver.find_element(By.ID, 'segment-summary').text
        labels[task] = label
    assert not np.array_equal(labels['ade'], labels['city'])
    assert not script_errors(driver)
