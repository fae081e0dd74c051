from setuptools import find_packages, setup

setup(
    name='vsr_multigrid',
    version='0.1.0',
    description='Multigrid training curricula for video super-resolution '
    'models in MMagic',
    packages=find_packages(include=['vsr_multigrid', 'vsr_multigrid.*']),
    python_requires='>=3.9',
    # Versions are pinned in requirements.txt and installed by
    # tools/bootstrap.sh; install_requires stays loose so the plugin can join
    # an existing MMagic environment.
    install_requires=['torch', 'mmengine', 'mmagic', 'opencv-python', 'lmdb'],
)
