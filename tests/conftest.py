import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

# Reference code kept beside the tests (the seed notebooks' own loops) is imported as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

# Without a GPU, the Triton kernels are checked in Triton's interpreter, which runs them on CPU tensors.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
    try:
        from triton.runtime import interpreter
    except ImportError:
        pass
    else:
        _patch = interpreter._patch_lang_tensor

        def _patch_lang_tensor(tensor, scope):
            # NumPy 2.4 refuses int() of a one-element 1-d array, which the interpreter's __index__ uses.
            _patch(tensor, scope)
            scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

        interpreter._patch_lang_tensor = _patch_lang_tensor


@pytest.fixture
def read_only_folder(tmp_path):
    """``tmp_path/ro``: a read-only bind mount of ``tmp_path/rw`` (a read-only file system, so even root
    cannot write there), or a skip where mounting is not allowed."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(rw), str(ro)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {mounted.stderr.decode().strip()}")
    try:
        yield rw, ro
    finally:
        subprocess.run(["umount", "--lazy", str(ro)], check=False)
