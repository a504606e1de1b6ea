"""Wheel build hook: the wheel carries the CPU kernels compiled for the building machine.

It runs `gpuconv.backends._precompile.compile_cpu_kernels` on a scratch
copy of the package and adds the cache files Numba writes there to the
wheel, so that after ``pip install .`` a new process loads the kernels
instead of compiling them (see that module for when Numba uses the files).
Editable installs skip it: the checkout's own ``__pycache__`` fills on first
use. ``HATCH_BUILD_NO_HOOKS=true`` skips it for any build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

COMPILE = """
import sys
sys.path.insert(0, sys.argv[1])
from gpuconv.backends._precompile import compile_cpu_kernels
print(*compile_cpu_kernels(), sep="\\n")
"""


class CompiledKernelsHook(BuildHookInterface):
    """Adds the ``__pycache__/*.nbi`` and ``*.nbc`` files of the kernels' entry points."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":
            return
        self.scratch = tempfile.mkdtemp(prefix="gpuconv-kernels-")
        package = Path(self.scratch, "gpuconv")
        shutil.copytree(Path(self.root, "gpuconv"), package,
                        ignore=shutil.ignore_patterns("__pycache__"))
        # Numba writes beside the sources only without a cache directory of
        # the user's; two threads let the calls reach the parallel kernels.
        environment = {name: value for name, value in os.environ.items()
                       if name != "NUMBA_CACHE_DIR"}
        environment["NUMBA_NUM_THREADS"] = "2"
        result = subprocess.run([sys.executable, "-c", COMPILE, self.scratch], env=environment,
                                cwd=self.scratch, capture_output=True, text=True)
        # Only the entry points' files: a kernel loaded from the cache needs
        # none of its callees'. Their names start "<module>.<function>-".
        entry_points = {line.split("[")[0] for line in result.stdout.split()}
        cache_files = [path for path in sorted(package.rglob("__pycache__/*.nb[ic]"))
                       if path.name.split("-")[0] in entry_points]
        if result.returncode or not cache_files:
            # The package works without them: the kernels compile on first use.
            self.app.display_warning("gpuconv: the CPU kernels were not compiled into the wheel "
                                     f"and will compile on first use:\n{result.stderr}")
            return
        self.app.display_info("gpuconv: compiled " + ", ".join(result.stdout.split()))
        for path in cache_files:
            build_data["force_include"][str(path)] = path.relative_to(self.scratch).as_posix()

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        if version != "editable":
            shutil.rmtree(self.scratch, ignore_errors=True)
