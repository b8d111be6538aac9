"""What detachify knows of d2l ("Dive into Deep Learning"'s helpers, `from d2l import torch as d2l`), proven by
running d2l's own code.

`import d2l.torch` cannot work here (it imports torchvision, which does not load beside the pinned CPU torch), so
`d2l_source.load` executes the real definitions from the installed `d2l/torch.py` (see there). The plotting helpers
run in one child process: d2l's `use_svg_display` starts an IPython shell (matplotlib_inline's
`set_matplotlib_formats`), which must not outlive the probe in a pytest worker.

Entries proven here: knowledge.DEVICE_FUNCTIONS, converters.CONVERTING_FUNCTIONS["d2l.torch"],
converters.CONVERTING_METHODS, converters.DETACHING_CONVERTERS and libraries.BOUND_NAMES (with the star import of
d2l.torch). A tensor off the CPU is the meta device here: torch refuses `.numpy()` of any tensor not on the CPU with
the same TypeError (`can't convert cuda:0 device type tensor to numpy` on a GPU, `... meta device type ...` here),
raised from the same `Tensor.numpy` that `Tensor.__array__` calls, so a helper that raises it on a meta tensor raises
it on a CUDA one. No GPU is needed, and none is faked.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import d2l_source
from detachify.analysis import converters as C
from detachify.analysis import knowledge as K
from detachify.analysis import libraries as L
from qualified_names import resolve

pytestmark = pytest.mark.skipif(d2l_source.source_path() is None, reason=d2l_source.SKIP_REASON)

HERE = Path(__file__).resolve().parent
GRAD_ERROR = "Can't call numpy() on Tensor that requires grad"
DEVICE_ERROR = "can't convert meta device type tensor to numpy"
D2L = "d2l.torch"


def test_the_tested_release_is_installed():
    """The facts were proven on d2l 1.0.3, the last release (its source is what the tables describe)."""
    assert d2l_source.version() == "1.0.3"


# ---------------------------------------------------------------------------------------------------------------
# knowledge.DEVICE_FUNCTIONS
# ---------------------------------------------------------------------------------------------------------------

DEVICE_NAMES = sorted(qname.rsplit(".", 1)[1] for qname in K.DEVICE_FUNCTIONS)


def test_device_functions_are_d2l_torch_functions():
    assert all(qname.startswith(D2L + ".") for qname in K.DEVICE_FUNCTIONS)
    assert set(K.DEVICE_FUNCTIONS.values()) <= {"cpu", "gpu", "gpus"}
    d2l = d2l_source.load(DEVICE_NAMES)
    assert all(callable(getattr(d2l, name)) for name in DEVICE_NAMES)


@pytest.fixture
def devices():
    return d2l_source.load(["cpu", "gpu", "num_gpus", "try_gpu", "try_all_gpus"])


def test_cpu_is_the_cpu(devices):
    assert K.DEVICE_FUNCTIONS[f"{D2L}.cpu"] == "cpu"
    assert devices.cpu() == torch.device("cpu")
    torch.ones(2).to(devices.cpu()).numpy()


def test_gpu_is_a_cuda_device(devices):
    """`gpu(i)` is `torch.device(f'cuda:{i}')`: building the device needs no GPU."""
    assert K.DEVICE_FUNCTIONS[f"{D2L}.gpu"] == "gpu"
    for i in range(3):
        assert devices.gpu(i) == torch.device("cuda", i)
        assert devices.gpu(i).type == "cuda"
    assert devices.gpu() == torch.device("cuda:0")


def test_num_gpus_counts_the_cuda_devices(devices):
    assert devices.num_gpus() == torch.cuda.device_count()


def test_try_gpu_is_a_gpu_whenever_there_is_one(devices):
    """`try_gpu(i)` is `gpu(i)` when the machine has more than i GPUs, else `cpu()`: a device that may be a GPU.

    Only the branch this machine takes can be executed here: without a GPU, `num_gpus()` is 0 and `try_gpu` returns
    `cpu()`. The other branch returns `gpu(i)`, the CUDA device proven above; it runs only on a machine with a GPU
    (`torch.cuda.device_count` is not faked)."""
    assert K.DEVICE_FUNCTIONS[f"{D2L}.try_gpu"] == "gpu"
    for i in range(3):
        expected = devices.gpu(i) if torch.cuda.device_count() >= i + 1 else devices.cpu()
        assert devices.try_gpu(i) == expected
    assert devices.try_gpu() == (devices.gpu(0) if torch.cuda.device_count() else devices.cpu())


def test_try_all_gpus_is_a_list_of_cuda_devices(devices):
    """`try_all_gpus()` is `[gpu(i) for i in range(num_gpus())]`: a list of CUDA devices (`devices[0]` is one).

    Without a GPU it is the empty list here (its docstring's "or [cpu(),]" is not what the code does), so the loop
    below checks nothing on this machine; on a machine with GPUs it checks every device is CUDA."""
    assert K.DEVICE_FUNCTIONS[f"{D2L}.try_all_gpus"] == "gpus"
    found = devices.try_all_gpus()
    assert isinstance(found, list)
    assert found == [devices.gpu(i) for i in range(torch.cuda.device_count())]
    for device in found:
        assert device.type == "cuda"


# ---------------------------------------------------------------------------------------------------------------
# Converters: CONVERTING_FUNCTIONS["d2l.torch"], CONVERTING_METHODS, DETACHING_CONVERTERS
# ---------------------------------------------------------------------------------------------------------------

# Calls as users write them; `T(*shape)` is the tensor under test: one that requires grad, the same detached, and
# one that is not on the CPU (meta). Each call runs on a fresh d2l module, with grad mode on.
CONVERTER_EXAMPLES = {
    # Animator.add(x, y): y a tuple with `None` for no point (kaggle-dog's `(None, valid_loss.detach())`), a list,
    # or 1-d tensors of points; x converted as y is.
    f"{D2L}.Animator.add": [
        "d2l.Animator(xlabel='epoch', legend=['train', 'valid']).add(1, (None, T()))",
        "d2l.Animator(legend=['train', 'valid']).add(1, (T(), None))",
        "d2l.Animator(legend=['train', 'valid']).add(2, [T(), T()])",
        "d2l.Animator().add(torch.arange(3.0), T(3))",
        "d2l.Animator().add(T(3), torch.ones(3))",
    ],
    f"{D2L}.plot": [
        "d2l.plot(torch.arange(4.0), [T(4), T(4)], 'x', 'f(x)', legend=['f', 'g'])",
        "d2l.plot(T(4))",
        "d2l.plot(T(4), torch.ones(4))",
    ],
    f"{D2L}.numpy": ["d2l.numpy(T(2, 3))"],
    f"{D2L}.show_images": [
        "d2l.show_images(T(2, 4, 4), 1, 2)",
        "d2l.show_images([T(4, 4), T(4, 4)], 1, 2, titles=['a', 'b'])",
    ],
    f"{D2L}.show_heatmaps": ["d2l.show_heatmaps(T(1, 2, 3, 3), xlabel='keys', ylabel='queries', titles=['a', 'b'])"],
}
# What each needs from d2l/torch.py.
D2L_NAMES = ["Animator", "plot", "numpy", "show_images", "show_heatmaps", "use_svg_display", "set_figsize",
             "set_axes"]
TENSORS = {
    "grad": "lambda *shape: torch.rand(shape).requires_grad_() * 2",
    "detached": "lambda *shape: (torch.rand(shape).requires_grad_() * 2).detach()",
    "meta": "lambda *shape: torch.rand(shape, device='meta')",
    # What detachify's fix hands a detaching converter: the tensor moved to the CPU (`.cpu()`), grad kept.
    "cpu": "lambda *shape: (torch.rand(shape).requires_grad_() * 2).cpu()",
}
PROBE = """
import json, re, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
sys.path.insert(0, {here!r})
import d2l_source

cases, tensors, names = json.loads(sys.argv[1])
outcomes = {{}}
for case, code in cases:
    for form, factory in tensors.items():
        d2l = d2l_source.load(names)
        torch.set_grad_enabled(True)
        try:
            exec(code, {{"d2l": d2l, "torch": torch, "T": eval(factory)}})
            outcome = "runs"
        except RuntimeError as error:
            outcome = "grad-error" if {grad!r} in str(error) else f"RuntimeError: {{error}}"
        except TypeError as error:
            outcome = "device-error" if {device!r} in str(error) else f"TypeError: {{error}}"
        except Exception as error:
            outcome = f"{{type(error).__name__}}: {{error}}"
        plt.close("all")
        outcomes[f"{{form}}: {{code}}"] = outcome
print("OUTCOMES " + json.dumps(outcomes))
"""


def _tables():
    """(qualified name, what a requires-grad tensor does there) for each d2l converter entry."""
    entries = {f"{D2L}.{name}": "grad-error" for name in C.CONVERTING_FUNCTIONS.get(D2L, ())}
    entries.update({f"{cls}.{name}": "grad-error" for cls, names in C.CONVERTING_METHODS.items()
                    if cls.startswith(D2L + ".") for name in names})
    entries.update({f"{D2L}.{name}": "runs" for name in C.DETACHING_CONVERTERS.get(D2L, ())})
    return entries


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    cases = [(qname, code) for qname, codes in CONVERTER_EXAMPLES.items() for code in codes]
    home = tmp_path_factory.mktemp("ipython")
    script = PROBE.format(here=str(HERE), grad=GRAD_ERROR, device=DEVICE_ERROR)
    env = {**os.environ, "IPYTHONDIR": str(home), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", script, json.dumps([cases, TENSORS, D2L_NAMES])],
                          capture_output=True, text=True, timeout=300, env=env, cwd=str(home))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    line = [text for text in proc.stdout.splitlines() if text.startswith("OUTCOMES ")][-1]
    return json.loads(line[len("OUTCOMES "):])


def test_every_converter_entry_has_examples_and_every_example_an_entry():
    assert sorted(_tables()) == sorted(CONVERTER_EXAMPLES)
    assert set(C.CONVERTING_METHODS) == {f"{D2L}.Animator"}, "a new class: give its methods examples here"


@pytest.mark.parametrize("qname", sorted(CONVERTER_EXAMPLES))
def test_converter(qname, outcomes):
    """Each example raises torch's requires-grad error on a tensor that requires grad (a detaching converter runs
    instead), runs on the same tensor detached, and raises torch's device error on a tensor off the CPU. `.cpu()`
    alone, the fix of a detaching converter's argument, is enough there, and not for the others."""
    grad = _tables()[qname]
    expected = {"grad": grad, "detached": "runs", "meta": "device-error", "cpu": grad}
    for code in CONVERTER_EXAMPLES[qname]:
        seen = {form: outcomes[f"{form}: {code}"] for form in TENSORS}
        assert seen == expected, code


def test_converting_method_instances_are_built_by_calling_the_class():
    """The analysis tracks `d2l.Animator(...)` by the class's name and its `add` as a method of that instance."""
    source = {name for statement in d2l_source.statements() for name in d2l_source.defined_names(statement)
              if isinstance(statement, ast.ClassDef)}
    for cls, names in C.CONVERTING_METHODS.items():
        assert cls.rsplit(".", 1)[1] in source
        d2l = d2l_source.load([cls.rsplit(".", 1)[1]])
        assert all(callable(getattr(getattr(d2l, cls.rsplit(".", 1)[1]), name)) for name in names)


# ---------------------------------------------------------------------------------------------------------------
# libraries.BOUND_NAMES and `from d2l.torch import *`
# ---------------------------------------------------------------------------------------------------------------

BOUND = sorted(L.BOUND_NAMES[D2L].items())


@pytest.mark.parametrize("name, target", BOUND, ids=[name for name, _ in BOUND])
def test_bound_name_is_that_object(name, target):
    """`d2l.plt` is matplotlib.pyplot, `d2l.tensor` is torch.tensor, `d2l.d2l` the module itself: d2l.torch's own
    imports and aliases, executed. torchvision's imports cannot run here (torchvision does not load): that they bind
    `torchvision` and `transforms` is read from the statements themselves."""
    if target.split(".")[0] in d2l_source.UNLOADABLE:
        assert d2l_source.import_bindings()[name] == target
        return
    d2l = d2l_source.load([name])
    if name == "d2l":
        assert d2l.d2l is d2l and target == D2L
        return
    assert getattr(d2l, name) is resolve(target)


def test_star_import_of_d2l_torch_binds_every_public_name():
    """d2l/torch.py has no `__all__`, so `from d2l.torch import *` binds every name it defines or imports that does
    not start with an underscore; the analysis resolves those the tables know to what they are."""
    statements = d2l_source.statements()
    defined = set().union(*(d2l_source.defined_names(s) for s in statements)) | set(d2l_source.import_bindings())
    assert "__all__" not in defined
    known = {qname.rsplit(".", 1)[1] for qname in K.DEVICE_FUNCTIONS} | set(_tables()) | set(L.BOUND_NAMES[D2L])
    known = {name[len(D2L) + 1:].split(".")[0] if name.startswith(D2L + ".") else name for name in known}
    assert D2L in L.STAR_IMPORTABLE
    for name in sorted(known):
        assert name in defined and not name.startswith("_"), name
        resolved = L.star_name([D2L], name)
        assert resolved == L.BOUND_NAMES[D2L].get(name, f"{D2L}.{name}"), name
