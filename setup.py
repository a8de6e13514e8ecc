"""mmseg-expres: EXPRES prompt tuning (CVPR 2023) as an MMSegmentation 1.x backbone."""
from pathlib import Path

from setuptools import find_packages, setup


def read_requirements(name: str) -> list:
    lines = Path(__file__).parent.joinpath('requirements', name).read_text().splitlines()
    reqs = [line.split('#')[0].strip() for line in lines]
    return [r for r in reqs if r]


setup(
    name='mmseg-expres',
    version='0.1.0',
    description='EXPRES: expressive prompts with residuals for frozen ViTs in MMSegmentation',
    long_description=Path(__file__).parent.joinpath('README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmseg_expres', 'mmseg_expres.*']),
    # The configs, so that `_base_ = ['mmseg_expres::...']` works from any folder
    # (mmseg_expres/configs/.mim/configs links to configs/; a wheel gets copies).
    package_data={'mmseg_expres.configs': ['.mim/model-index.yml', '.mim/configs/**/*.py']},
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt') + read_requirements('mmcv.txt'),
    extras_require={'tests': read_requirements('tests.txt'),
                    'demo': read_requirements('demo.txt'),
                    'deploy': read_requirements('deploy.txt')},
    license='Apache-2.0',
)
