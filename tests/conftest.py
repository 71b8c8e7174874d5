import os
import sys
from pathlib import Path

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
