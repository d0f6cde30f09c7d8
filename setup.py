"""Packaging glue: the C parts are built by the Makefile (the one build for
checkouts and installs); this hook runs it with the installing interpreter and
puts the extension and the CLI binary inside the package."""
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithMake(build_py):
    def run(self):
        super().run()
        subprocess.check_call(["make", "-C", HERE, f"PYTHON={sys.executable}",
                               "BUILD=build/pip"])
        target = os.path.join(self.build_lib, "memscope")
        ext = "_memscope" + sysconfig.get_config_var("EXT_SUFFIX")
        shutil.copy2(os.path.join(HERE, "python", "memscope", ext), os.path.join(target, ext))
        shutil.copy2(os.path.join(HERE, "bin", "memscope"), os.path.join(target, "_cli"))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True  # platform wheel: it carries a compiled extension and program


setup(cmdclass={"build_py": BuildWithMake}, distclass=BinaryDistribution)
