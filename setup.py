"""Only here for cffi: pyproject.toml holds the project's metadata.

media/fanout_build.py compiles the SFU's per-packet fan-out (media/fanout.c)
into media._fanout at install time."""

from setuptools import setup

setup(cffi_modules=["media/fanout_build.py:ffibuilder"])
