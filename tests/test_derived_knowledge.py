"""The library knowledge derived by calling torch and NumPy (src/detachify/registry/data/*.json) still holds, and the
hand-written tables agree with it.

1. Drift. A fixed sample (FIXED_TORCH_SAMPLE, FIXED_NUMPY_SAMPLE: every effect, and every fact issue 10 names) and a
   rotating sample (ROTATING_SAMPLE_SIZE entries of each file, drawn with a seed that changes every day; set
   DETACHIFY_DERIVE_SEED=<int> to replay a day) are classified again with the scripts' own `classify` and must
   equal the committed entries. On drift, rerun the script and review the diff.
2. The torch facts issue 10 names, executed here.
3. Consistency. Every entry of the tables in detachify.analysis.knowledge and of the NumPy part of
   detachify.analysis.converters agrees with the derived data, or is listed in an *_EXCEPTIONS table with the reason;
   each exception's own claim is executed, and it is checked to still be needed.
4. The data ships in the wheel.
"""
from __future__ import annotations

import datetime
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from detachify.analysis import converters as C
from detachify.analysis import knowledge as K
from detachify.registry import derived as D

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import derive_numpy_converters as derive_numpy  # noqa: E402
import derive_torch_ops as derive_torch  # noqa: E402

GRAD_ERROR = r"Can't call numpy\(\) on Tensor that requires grad"
TORCH_OPS = D.load(D.TORCH_OPS)["ops"]
NUMPY_FUNCTIONS = D.load(D.NUMPY_CONVERTERS)["functions"]


@pytest.fixture(autouse=True)
def _scratch_directory(tmp_path, monkeypatch):
    """Probes may take a string argument for a file name: keep whatever they write out of the checkout."""
    monkeypatch.chdir(tmp_path)
    torch.set_grad_enabled(True)
    yield
    torch.set_grad_enabled(True)


def test_data_was_derived_under_the_installed_libraries():
    """The entries are facts about one release: rerun the scripts after changing the pinned torch or NumPy."""
    assert D.torch_version() == torch.__version__, "rerun scripts/derive_torch_ops.py"
    assert D.numpy_version() == np.__version__, "rerun scripts/derive_numpy_converters.py"
    assert D.load(D.NUMPY_CONVERTERS)["torch_version"] == torch.__version__


def test_every_public_callable_has_an_entry():
    assert sorted(TORCH_OPS) == sorted(derive_torch.public_targets())
    assert sorted(NUMPY_FUNCTIONS) == sorted(derive_numpy.public_targets())
    assert {e["effect"] for e in TORCH_OPS.values()} <= D.TORCH_EFFECTS
    assert {e["effect"] for e in NUMPY_FUNCTIONS.values()} <= D.NUMPY_EFFECTS


# ---------------------------------------------------------------------------------------------------------------
# 1. Drift
# ---------------------------------------------------------------------------------------------------------------

# One entry per effect and per fact the engine leans on; the four facts first.
FIXED_TORCH_SAMPLE = [
    "torch.multinomial", "torch.bernoulli", "torch.unique", "torch.Tensor.type",
    "torch.argmax", "torch.Tensor.argmax", "torch.eq", "torch.Tensor.long", "torch.Tensor.to", "torch.Tensor.item",
    "torch.Tensor.tolist", "torch.Tensor.numpy", "torch.max", "torch.Tensor.sort", "torch.linalg.svd",
    "torch.split", "torch.zeros", "torch.tensor", "torch.as_tensor", "torch.zeros_like", "torch.Tensor.add_",
    "torch.Tensor.detach", "torch.Tensor.data", "torch.Tensor.grad", "torch.Tensor.shape", "torch.Tensor.new_zeros",
    "torch.nn.functional.relu", "torch.nn.functional.max_pool2d", "torch.nn.functional.cross_entropy",
    "torch.nn.functional.nll_loss", "torch.fft.fft", "torch.special.erf", "torch.bitwise_and", "torch.Tensor.cuda",
    "torch.set_default_dtype", "torch.einsum", "torch.mv", "torch.rand",
]
FIXED_NUMPY_SAMPLE = [
    "numpy.random.Generator.choice", "numpy.random.RandomState.choice", "numpy.array", "numpy.asarray",
    "numpy.concatenate", "numpy.mean", "numpy.sum", "numpy.where", "numpy.bincount", "numpy.savetxt",
    "numpy.array_equal", "numpy.zeros", "numpy.random.normal", "numpy.linalg.norm", "numpy.fft.fft", "numpy.add",
    "numpy.testing.assert_allclose", "numpy.random.Generator.shuffle", "numpy.generic", "numpy.test",
]
ROTATING_SAMPLE_SIZE = 25


def _rotating_seed() -> int:
    return int(os.environ.get("DETACHIFY_DERIVE_SEED", datetime.date.today().toordinal()))


def _rederivable(entry) -> bool:
    """Entries whose probing killed or hung a worker process are not re-derived in the test's own process."""
    return not entry.get("reason", "").startswith("probing ")


def _rotating_sample(entries, fixed):
    names = sorted(q for q, e in entries.items() if _rederivable(e) and q not in fixed)
    return sorted(random.Random(_rotating_seed()).sample(names, ROTATING_SAMPLE_SIZE))


def _assert_same(qualname, committed, again, script):
    if committed != again:
        pytest.fail(f"{qualname} drifted (seed {_rotating_seed()}); rerun {script} and review the diff\n"
                    f"committed: {json.dumps(committed, sort_keys=True)}\n"
                    f"derived:   {json.dumps(again, sort_keys=True)}")


@pytest.mark.parametrize("qualname", FIXED_TORCH_SAMPLE + _rotating_sample(TORCH_OPS, FIXED_TORCH_SAMPLE))
def test_torch_entry_rederives_the_same(qualname):
    _assert_same(qualname, TORCH_OPS[qualname], derive_torch.classify(qualname), "scripts/derive_torch_ops.py")


@pytest.mark.parametrize("qualname", FIXED_NUMPY_SAMPLE + _rotating_sample(NUMPY_FUNCTIONS, FIXED_NUMPY_SAMPLE))
def test_numpy_entry_rederives_the_same(qualname):
    _assert_same(qualname, NUMPY_FUNCTIONS[qualname], derive_numpy.classify(qualname),
                 "scripts/derive_numpy_converters.py")


def test_fixed_samples_cover_every_effect():
    assert {TORCH_OPS[q]["effect"] for q in FIXED_TORCH_SAMPLE} == D.TORCH_EFFECTS
    assert {NUMPY_FUNCTIONS[q]["effect"] for q in FIXED_NUMPY_SAMPLE} == D.NUMPY_EFFECTS


# ---------------------------------------------------------------------------------------------------------------
# 2. The facts issue 10 names, executed
# ---------------------------------------------------------------------------------------------------------------

def _grad_probabilities():
    return (torch.rand(2, 4) * 0.8 + 0.1).requires_grad_()


def test_multinomial_never_requires_grad():
    p = _grad_probabilities()
    for out in (torch.multinomial(p, 2), torch.multinomial(p[0], 3, replacement=True), p.multinomial(1)):
        assert not out.requires_grad and out.dtype == torch.int64
        out.numpy()  # noqa: TNP001 (it converts: no grad)
    assert D.torch_op_effect("torch.multinomial") == "no-grad"
    assert D.torch_never_requires_grad("torch.multinomial") and D.torch_never_requires_grad("torch.Tensor.multinomial")


def test_bernoulli_requires_grad():
    p = _grad_probabilities()
    for out in (torch.bernoulli(p), p.bernoulli()):
        assert out.requires_grad
        with pytest.raises(RuntimeError, match=GRAD_ERROR):
            out.numpy()  # noqa: TNP001 (the point: it raises)
    assert D.torch_op_effect("torch.bernoulli") == "keeps-grad"


def test_unique_requires_grad():
    x = torch.tensor([3.0, 1.0, 3.0, 2.0], requires_grad=True)
    for out in (torch.unique(x), x.unique(), torch.unique(x, sorted=False)):
        assert out.requires_grad
        with pytest.raises(RuntimeError, match=GRAD_ERROR):
            out.numpy()  # noqa: TNP001 (the point: it raises)
    assert D.torch_op_effect("torch.unique") == "keeps-grad"
    # with return_inverse the pair is (values: grad, inverse: no grad), and the entry records it
    values, inverse = torch.unique(x, return_inverse=True)
    assert values.requires_grad and not inverse.requires_grad
    flagged = TORCH_OPS["torch.unique"]["by_flag"]["return_inverse=True"]
    assert flagged == {"effect": "tuple", "items": ["keeps-grad", "no-grad"]}


def test_type_to_an_integer_tensor_type_does_not_require_grad():
    x = torch.randn(3, requires_grad=True)
    out = x.type(torch.LongTensor)
    assert not out.requires_grad and out.dtype == torch.int64
    out.numpy()  # noqa: TNP001 (it converts: no grad)
    assert x.type(torch.float).requires_grad and x.type(torch.DoubleTensor).requires_grad
    assert x.type() == "torch.FloatTensor"
    assert D.torch_effect_with_dtype("torch.Tensor.type", "torch.LongTensor") == "no-grad"
    assert D.torch_effect_with_dtype("torch.Tensor.type", "torch.DoubleTensor") == "keeps-grad"
    assert D.torch_effect_with_dtype("torch.Tensor.to", "torch.int64") == "no-grad"
    assert D.torch_op_effect("torch.Tensor.type") == "not-tensor"  # x.type() alone: the type's name


def test_generator_choice_converts_its_probabilities():
    p = torch.full((4,), 0.25, requires_grad=True)
    with pytest.raises(RuntimeError, match=GRAD_ERROR):
        np.random.default_rng(0).choice(4, p=p)  # noqa: TNP003 (the point: it raises)
    np.random.default_rng(0).choice(4, p=p.detach())
    assert "p" in D.numpy_converting_arguments("numpy.random.Generator.choice")


# ---------------------------------------------------------------------------------------------------------------
# 3. The hand tables agree with the derived data
# ---------------------------------------------------------------------------------------------------------------

def entry(qualname):
    """The derived entry; a name the scripts do not list as public (`torch.Tensor.__len__`) is derived now."""
    return TORCH_OPS.get(qualname) or derive_torch.classify(qualname)


def effects(found):
    """Every effect an entry records: its own and its variants'."""
    return {found["effect"]} | {v["effect"] for v in found.get("variants", [])}


def never_grad(qualname):
    found = entry(qualname)
    outcomes = found.get("variants") or [found]
    return found["effect"] not in ("unknown", "raises-grad-error") and all(D._never_grad(o) for o in outcomes)


def op_names(name):
    """torch.<name> and torch.Tensor.<name>, where they exist."""
    return [q for q, owner in ((f"torch.{name}", torch), (f"torch.Tensor.{name}", torch.Tensor))
            if hasattr(owner, name)]


def cases(table, exceptions=()):
    return [pytest.param(name, id=name) for name in sorted(table) if name not in exceptions]


@pytest.mark.parametrize("name", cases(K.NON_DIFFERENTIABLE_OPS))
def test_non_differentiable_op_never_requires_grad(name):
    assert op_names(name)
    for qualname in op_names(name):
        assert never_grad(qualname), (qualname, entry(qualname))


@pytest.mark.parametrize("name", cases(K.NON_DIFFERENTIABLE_METHODS | K.DETACHING_METHODS))
def test_non_differentiable_method_never_requires_grad(name):
    assert never_grad(f"torch.Tensor.{name}"), entry(f"torch.Tensor.{name}")


CASTING_METHODS = {name for name in K.NON_DIFFERENTIABLE_METHODS if not name.startswith("new_")}


@pytest.mark.parametrize("name", cases(CASTING_METHODS))
def test_casting_method_gives_an_integer_or_bool_dtype(name):
    assert entry(f"torch.Tensor.{name}")["dtype"] in ("int64", "int32", "int16", "int8", "uint8", "bool")


@pytest.mark.parametrize("name", cases(K.DETACHING_ATTRIBUTES))
def test_detaching_attribute_never_requires_grad(name):
    found = entry(f"torch.Tensor.{name}")
    assert found["kind"] == "attribute" and never_grad(f"torch.Tensor.{name}"), found


@pytest.mark.parametrize("name", cases(K.NON_TENSOR_ATTRIBUTES))
def test_non_tensor_attribute_is_not_a_tensor(name):
    found = entry(f"torch.Tensor.{name}")
    assert found["kind"] == "attribute" and found["effect"] == "not-tensor", found


@pytest.mark.parametrize("name", cases(K.NON_TENSOR_METHODS))
def test_non_tensor_method_returns_no_tensor(name):
    found = entry(f"torch.Tensor.{name}")
    assert found["kind"] == "method" and found["effect"] == "not-tensor", found


@pytest.mark.parametrize("name", cases(K.VALUES_INDICES_OPS))
def test_values_indices_op_returns_the_pair(name):
    without_dim = K.VALUES_INDICES_OPS[name]
    for qualname in op_names(name):
        found = entry(qualname)
        pairs = [o for o in (found.get("variants") or [found]) if o["effect"] == "values-indices"]
        assert pairs, (qualname, found)
        with_grad = [o for o in pairs if o.get("tier") != 3]
        assert all(o["fields"] == [["values", "keeps-grad"], ["indices", "no-grad"]] for o in with_grad), found
        if without_dim:  # the pair on every call, a dim or not
            assert found["effect"] == "values-indices", (qualname, found)
        elif found["effect"] == "values-indices":  # every call that worked had a dim: without one it raises
            with pytest.raises(TypeError, match="dim"):
                getattr(torch, name)(torch.randn(3, requires_grad=True))
        else:  # without a dim: one tensor, in the graph
            assert "keeps-grad" in effects(found), (qualname, found)


@pytest.mark.parametrize("name", cases(K.FULL_REDUCTIONS))
def test_full_reduction_keeps_grad(name):
    for qualname in op_names(name):
        assert entry(qualname)["effect"] == "keeps-grad", (qualname, entry(qualname))


# Losses the probes cannot call: their arguments must agree with each other in ways no probe shape gives.
FUNCTIONAL_LOSS_EXCEPTIONS = {
    "ctc_loss": "needs log-probabilities (T, N, C) with integer targets and lengths that fit them",
}


@pytest.mark.parametrize("name", cases(K.FUNCTIONAL_LOSSES, FUNCTIONAL_LOSS_EXCEPTIONS))
def test_functional_loss_keeps_grad(name):
    assert entry(f"torch.nn.functional.{name}")["effect"] == "keeps-grad"


@pytest.mark.parametrize("name", sorted(FUNCTIONAL_LOSS_EXCEPTIONS))
def test_functional_loss_exception_is_still_needed_and_true(name):
    assert entry(f"torch.nn.functional.{name}")["effect"] == "unknown"
    log_probs = torch.randn(5, 1, 3).log_softmax(-1).requires_grad_()
    out = torch.nn.functional.ctc_loss(log_probs, torch.tensor([[1, 2]]), torch.tensor([5]), torch.tensor([2]))
    assert out.requires_grad


@pytest.mark.parametrize("name", cases(K.TENSOR_FACTORIES))
def test_tensor_factory_creates_fresh_tensors(name):
    found = entry(f"torch.{name}")
    assert found["effect"] == "factory" or "factory" in found or found["effect"] == "no-grad", found
    verdict = found.get("requires_grad_argument")
    if name in ("as_tensor", "from_numpy"):
        assert verdict == "not accepted"
    else:
        assert verdict in ("honoured", "honoured with a float dtype"), found


@pytest.mark.parametrize("name", cases(K.FACTORIES_PASSING_TENSORS))
def test_factory_passing_tensors_keeps_grad_of_a_tensor(name):
    found = entry(f"torch.{name}")
    passing = [o for o in (found.get("variants") or [found]) if o["effect"] == "keeps-grad"]
    assert passing and passing[0]["probe"] == f"torch.{name}(grad[2,3])", found


@pytest.mark.parametrize("qname", cases(K.INTEGER_DTYPES))
def test_integer_dtype_cuts_the_graph_in_to_and_type(qname):
    dtype = str(getattr(torch, qname.split(".")[1]))  # torch.long -> "torch.int64"
    for method in ("torch.Tensor.to", "torch.Tensor.type"):
        assert D.torch_effect_with_dtype(method, dtype) == "no-grad", (method, dtype)


# Tables about things outside the probed namespaces (grad-mode classes, nn modules, nn.utils, distributions,
# Lightning, model libraries) or about names rather than calls: tests/test_knowledge.py proves each entry.
OUT_OF_SCOPE_TABLES = {
    "GRAD_MODE_SETTERS": "context managers: what matters is the grad mode inside them, not what a call returns",
    "NON_DIFFERENTIABLE_NN_UTILS": "torch.nn.utils is not a probed namespace",
    "DISTRIBUTION_SAMPLERS": "methods of torch.distributions objects",
    "PARAMETER_FREE_MODULES": "torch.nn module classes", "MODULE_CONTAINERS": "torch.nn module classes",
    "PARAMETER_ATTRIBUTES": "attributes of torch.nn modules", "BUFFER_ATTRIBUTES": "attributes of torch.nn modules",
    "LIGHTNING_MODULES": "Lightning", "LIGHTNING_NO_GRAD_HOOKS": "Lightning",
    "MODEL_CONSTRUCTOR_PREFIXES": "model libraries", "MODEL_FACTORY_METHODS": "model libraries",
    "MODEL_LIBRARIES": "model libraries", "MODULE_BASES": "base classes", "TENSOR_TYPES": "annotations",
    "OTHER_TENSOR_LIBRARIES": "other libraries",
    "ARRAY_TYPES": "isinstance types", "TENSOR_PREDICATES": "type tests, not ops",
    "TENSOR_ONLY_ATTRIBUTES": "attribute names", "CUDA_AVAILABILITY": "the machine, not a tensor",
    "DEVICE_FUNCTIONS": "devices, of d2l (tests/test_d2l_facts.py runs d2l's own source)",
    "SAME_DEVICE_FACTORY_METHODS": "devices, not grad (tests/test_knowledge.py proves them on the meta device)",
    "MODEL_WRAPPERS": "torch.optim's modules (tests/test_knowledge.py builds and calls each)",
    "AUTOGRAD_FUNCTION_BASES": "base classes (tests/test_knowledge.py runs a Function's forward and backward)",
    "ONCE_DIFFERENTIABLE": "a decorator (tests/test_knowledge.py runs a backward under it)",
    "PASS_THROUGH_ITERABLES": "progress bars, not torch (tests/test_knowledge.py iterates them over grad tensors)",
    # The names the evaluation dispatches on; tests/test_knowledge.py proves each (its last section).
    "BUILTINS": "a module name (tests/test_knowledge.py resolves builtins through it)",
    "INSTANCE_TESTS": "type tests, not ops (tests/test_knowledge.py tells tensors from arrays with them)",
    "ATTRIBUTE_TESTS": "type tests, not ops (tests/test_knowledge.py runs them on tensors and arrays)",
    "TYPE_QUERIES": "type tests, not ops (tests/test_knowledge.py runs them on tensors, parameters, arrays)",
    "UNIVERSAL_TYPES": "builtin types (tests/test_knowledge.py tries every builtin type on tensors)",
    "PROPERTY_DECORATORS": "decorators (tests/test_knowledge.py reads a property over a grad tensor)",
    "PARTIAL_APPLICATIONS": "functools, not torch (tests/test_knowledge.py calls a partial on a grad tensor)",
    "COPIES": "the copy module, not torch (tests/test_knowledge.py copies grad tensors and a model)",
    "GRAD_MODE_QUERIES": "grad mode, not a tensor (tests/test_knowledge.py asks it with grad on and off)",
    "TORCH": "a module name (tests/test_knowledge.py finds the factories in it)",
    "TORCH_FUNCTION_NAMESPACES": "namespaces, not ops (tests/test_knowledge.py runs a function of each on grad)",
    "TENSOR_CLASS": "the key prefix of the derived methods (tests/test_knowledge.py checks they are its methods)",
    "PARAMETER_CLASSES": "classes, not ops (tests/test_knowledge.py builds parameters with and without grad)",
    "TORCH_NN": "a module name (tests/test_knowledge.py: the module tables name its classes)",
    "MODULE_NAMESPACES": "torch.nn module classes (tests/test_knowledge.py lists their capitalised names)",
    "NN_UTILS": "torch.nn.utils is not a probed namespace (tests/test_knowledge.py runs one of its functions)",
    "DISTRIBUTIONS": "torch.distributions classes (tests/test_knowledge.py samples one built from grad tensors)",
    "GRADIENT_FUNCTIONS": "autograd, not probed (tests/test_knowledge.py takes gradients with and without graph)",
    "CHECKPOINTS": "they call a function (tests/test_knowledge.py checkpoints a model with grad on and off)",
    "TENSOR_DATASETS": "datasets (tests/test_knowledge.py indexes one built from a grad tensor)",
    "DATA_LOADERS": "loaders (tests/test_knowledge.py iterates one over grad tensors)",
    "DEVICE": "devices, not grad (tests/test_knowledge.py moves a tensor to a cpu device)",
    "LOAD": "unpickling, not an op (tests/test_knowledge.py saves and loads a model and a grad tensor)",
    "OPTIMIZERS": "torch.optim classes (tests/test_knowledge.py lists them and reads an optimizer's parameters)",
    "SCHEDULERS": "torch.optim classes (tests/test_knowledge.py shows its classes are no optimizers)",
    "OPTIMIZER": "a base class (tests/test_knowledge.py: every optimizer derives from it)",
    "CUDA": "the machine, not a tensor (tests/test_knowledge.py checks its tensor types are CUDA types)",
    "UNFOLLOWED_CALL_PREFIXES": "calls the analysis does not follow (tests/test_knowledge.py runs one of each)",
    "NUMPY": "NumPy, not torch (tests/test_knowledge.py resolves it)",
    "AXES": "matplotlib classes (tests/test_knowledge.py: subplots hands one back)",
    "FIGURE": "matplotlib classes (tests/test_knowledge.py: subplots and figure hand one back)",
    "FIGURE_FACTORIES": "matplotlib (tests/test_knowledge.py calls them)",
    "AXES_ARRAY_METHODS": "methods of arrays of Axes (tests/test_knowledge.py calls them on a grid of Axes)",
    "AXES_LIBRARIES": "library names (tests/test_knowledge.py: the Axes and Figure classes are theirs)",
    "ESTIMATOR": "scikit-learn (tests/test_knowledge.py: the sample estimators derive from it)",
    "ESTIMATOR_METHODS_RETURNING_SELF": "scikit-learn (tests/test_knowledge.py fits the sample estimators)",
}
CHECKED_TABLES = {
    "NON_DIFFERENTIABLE_OPS", "NON_DIFFERENTIABLE_METHODS", "DETACHING_METHODS", "DETACHING_ATTRIBUTES",
    "NON_TENSOR_ATTRIBUTES", "NON_TENSOR_METHODS", "VALUES_INDICES_OPS", "FULL_REDUCTIONS", "FUNCTIONAL_LOSSES",
    "TENSOR_FACTORIES", "FACTORIES_PASSING_TENSORS", "INTEGER_DTYPES",
}


def test_every_knowledge_table_is_checked_or_out_of_scope():
    tables = {name for name in vars(K) if name.isupper()}
    assert tables == CHECKED_TABLES | set(OUT_OF_SCOPE_TABLES)


# NumPy converters the probes classify otherwise, and why; each one's table entry is proven by
# tests/test_converters.py with the example call named here, which this test runs again.
NUMPY_CONVERTER_EXCEPTIONS = {}


@pytest.mark.parametrize("name", cases(C.CONVERTING_FUNCTIONS["numpy"], NUMPY_CONVERTER_EXCEPTIONS))
def test_numpy_converting_function_converts(name):
    found = NUMPY_FUNCTIONS[f"numpy.{name}"]
    assert found["effect"] == "converts", found


@pytest.mark.parametrize("name", cases(C.LIST_CONVERTING_FUNCTIONS["numpy"]))
def test_numpy_list_converting_function_converts_lists_only(name):
    found = NUMPY_FUNCTIONS[f"numpy.{name}"]
    assert found["effect"] == "converts-lists", found
    assert D.numpy_converting_arguments(f"numpy.{name}") == {}
    assert D.numpy_list_converting_arguments(f"numpy.{name}")


# ---------------------------------------------------------------------------------------------------------------
# 4. Packaging
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_wheel_ships_the_data_files(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = tmp_path.glob("detachify-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in (D.TORCH_OPS, D.NUMPY_CONVERTERS):
            shipped = archive.read(f"detachify/registry/data/{name}")
            assert shipped == (ROOT / "src" / "detachify" / "registry" / "data" / name).read_bytes()


def test_registry_reads_the_data_without_torch_or_numpy():
    code = ("import sys; from detachify.registry import derived as d; "
            "assert d.torch_op_effect('torch.argmax') == 'no-grad'; "
            "assert d.numpy_converting_arguments('numpy.array') == {'object': 0}; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
