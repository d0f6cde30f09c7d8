"""Packaging glue: the C parts are built by the Makefile (the one build for
checkouts and installs); this hook runs it with the installing interpreter,
in setuptools' temporary build directory, and puts the extension and the CLI
binary inside the package. Installs build without -Werror: a compiler or
CPython header newer than ours may warn where ours did not, and that must not
stop a user's install."""
import os
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
        target = os.path.join(os.path.abspath(self.build_lib), "memscope")
        objects = os.path.join(os.path.abspath(self.get_finalized_command("build").build_temp),
                               "make")
        ext = "_memscope" + sysconfig.get_config_var("EXT_SUFFIX")
        jobs = str(min(os.cpu_count() or 1, 4))
        subprocess.check_call(["make", "-C", HERE, "-j", jobs, "WERROR=",
                               f"PYTHON={sys.executable}", f"BUILD={objects}",
                               f"CLI={os.path.join(target, '_cli')}",
                               f"EXT={os.path.join(target, ext)}"])


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True  # platform wheel: it carries a compiled extension and program


setup(cmdclass={"build_py": BuildWithMake}, distclass=BinaryDistribution)
