"""Every entry of `detachify.analysis.knowledge`, proven by running torch on it.

One parametrized test per table, one case per entry; then the torch facts the analysis relies on outside the
tables. An entry that torch disproves is removed from its table, and `test_disproven_entries_stay_out_of_the_tables`
(with the peft / sentence-transformers / open_clip tests) keeps it out.

Third-party libraries are optional here: their cases skip where the library is missing or fails to import.
lightning, transformers, diffusers, peft and sentence-transformers install beside torch 2.13.0+cpu and are in the
`test` extra, so those cases run; the torchvision wheels on PyPI do not load their operators with this CPU build,
so the torchvision, timm and open_clip cases skip (README: "How it is tested"). `OTHER_TENSOR_LIBRARIES` is left
untested: it names other libraries, not facts about torch.
"""
from __future__ import annotations

import importlib
import inspect
import warnings

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from detachify.analysis import converters as C
from detachify.analysis import knowledge as K
from detachify.analysis import libraries as L
from detachify.registry import derived
from qualified_names import resolve

GRAD_ERROR = r"Can't call numpy\(\) on Tensor that requires grad"


@pytest.fixture(autouse=True)
def _grad_mode_on():
    """Every test starts (and the next one starts again) with grad mode on and a fixed seed."""
    torch.set_grad_enabled(True)
    torch.manual_seed(0)
    yield
    torch.set_grad_enabled(True)


def grad_leaf(*shape):
    """A small float leaf tensor that requires grad."""
    return torch.randn(*shape).requires_grad_()


def assert_numpy_raises(t):
    with pytest.raises(RuntimeError, match=GRAD_ERROR):
        t.numpy()  # noqa: TNP001 (the point: it raises)


def assert_no_grad_tensor(out):
    assert isinstance(out, torch.Tensor)
    assert out.requires_grad is False
    out.numpy()  # noqa: TNP001 (it converts: the analysis cannot see the assert above)


# ---------------------------------------------------------------------------------------------------------------
# GRAD_MODE_SETTERS
# ---------------------------------------------------------------------------------------------------------------

def grad_mode_cases(kind):
    """(positional args, keyword args, grad mode expected inside) for each way of calling a setter of `kind`."""
    if kind == "on":
        return [((), {}, True)]
    if kind == "off":
        return [((), {}, False)]
    if kind == "flag":
        return [((True,), {}, True), ((False,), {}, False), ((), {"mode": True}, True), ((), {"mode": False}, False)]
    assert kind == "not-flag", kind
    return [((), {}, False), ((True,), {}, False), ((False,), {}, True),
            ((), {"mode": True}, False), ((), {"mode": False}, True)]


GRAD_MODE_CASES = [
    pytest.param(qname, args, kwargs, expected, id=f"{qname}{args or ''}{kwargs or ''}")
    for qname, kind in sorted(K.GRAD_MODE_SETTERS.items())
    for args, kwargs, expected in grad_mode_cases(kind)
]


@pytest.mark.parametrize("qname, kind", sorted(K.GRAD_MODE_SETTERS.items()))
def test_grad_mode_setter_resolves(qname, kind):
    setter = resolve(qname)
    assert callable(setter)
    assert kind in ("on", "off", "flag", "not-flag")
    if kind in ("flag", "not-flag"):
        # the flag is the first parameter and it is called `mode` (the analysis reads it by position or keyword)
        assert list(inspect.signature(setter).parameters)[0] == "mode"


@pytest.mark.parametrize("initial", [True, False], ids=["from-on", "from-off"])
@pytest.mark.parametrize("qname, args, kwargs, expected", GRAD_MODE_CASES)
def test_grad_mode_setter_as_context_manager(qname, args, kwargs, expected, initial):
    setter = resolve(qname)
    torch.set_grad_enabled(initial)
    x = grad_leaf(3)
    with setter(*args, **kwargs):
        assert torch.is_grad_enabled() is expected
        y = x * 2
        if expected:
            assert y.requires_grad
            assert_numpy_raises(y)
            assert_numpy_raises(x)
        else:
            assert not y.requires_grad
            y.numpy()
            x.numpy()  # even a leaf that requires grad converts when grad mode is off
    assert torch.is_grad_enabled() is initial


@pytest.mark.parametrize("initial", [True, False], ids=["from-on", "from-off"])
@pytest.mark.parametrize("qname, args, kwargs, expected", GRAD_MODE_CASES)
def test_grad_mode_setter_as_decorator(qname, args, kwargs, expected, initial):
    setter = resolve(qname)
    torch.set_grad_enabled(initial)

    @setter(*args, **kwargs)
    def inside():
        return torch.is_grad_enabled()

    assert torch.is_grad_enabled() is initial  # decorating changes nothing outside
    assert inside() is expected
    assert torch.is_grad_enabled() is initial


@pytest.mark.parametrize("initial", [True, False], ids=["from-on", "from-off"])
@pytest.mark.parametrize("qname, kind", sorted(K.GRAD_MODE_SETTERS.items()))
def test_grad_mode_setter_as_bare_decorator(qname, kind, initial):
    """`@torch.no_grad` without parentheses acts as `@torch.no_grad()`; `@torch.set_grad_enabled` is an error."""
    setter = resolve(qname)
    torch.set_grad_enabled(initial)

    def inside():
        return torch.is_grad_enabled()

    if kind == "flag":
        with pytest.raises(TypeError):
            setter(inside)
        torch.set_grad_enabled(initial)
        return
    decorated = setter(inside)
    assert torch.is_grad_enabled() is initial
    assert decorated() is {"on": True, "off": False, "not-flag": False}[kind]
    assert torch.is_grad_enabled() is initial


def test_inference_mode_false_turns_grad_on_inside_no_grad():
    x = grad_leaf(2)
    with torch.no_grad():
        with torch.inference_mode(False):
            assert torch.is_grad_enabled()
            assert_numpy_raises(x * 2)
        assert not torch.is_grad_enabled()


def test_set_grad_enabled_as_plain_call_switches_grad_mode_at_once():
    torch.set_grad_enabled(False)
    assert not torch.is_grad_enabled()
    (grad_leaf(2) * 2).numpy()
    torch.set_grad_enabled(True)
    assert_numpy_raises(grad_leaf(2) * 2)


def test_numpy_raises_only_with_grad_mode_on():
    x = grad_leaf(3)
    assert_numpy_raises(x)
    assert_numpy_raises(x * 2)
    with torch.no_grad():
        x.numpy()
        (x * 2).numpy()
    with torch.inference_mode():
        x.numpy()
    y = x * 2  # computed with grad on, converted with grad off: converts
    with torch.no_grad():
        y.numpy()


# ---------------------------------------------------------------------------------------------------------------
# TENSOR_FACTORIES and FACTORIES_PASSING_TENSORS
# ---------------------------------------------------------------------------------------------------------------

def _factory_examples(g, s):
    """name -> calls (taking keyword arguments) that create a tensor; `g`, `s` require grad and are passed
    wherever the factory takes a tensor, to prove that their grad does not flow into the new tensor."""
    return {
        "tensor": [lambda **kw: torch.tensor([1.0, 2.0], **kw), lambda **kw: torch.tensor(g, **kw),
                   lambda **kw: torch.tensor([s, s], **kw)],
        "as_tensor": [lambda **kw: torch.as_tensor([1.0, 2.0], **kw),
                      lambda **kw: torch.as_tensor(np.ones(2, np.float32), **kw),
                      lambda **kw: torch.as_tensor([s, s], **kw)],
        "from_numpy": [lambda **kw: torch.from_numpy(np.ones(2, np.float32), **kw)],
        "asarray": [lambda **kw: torch.asarray([1.0, 2.0], **kw),
                    lambda **kw: torch.asarray(np.ones(2, np.float32), **kw),
                    lambda **kw: torch.asarray([s, s], **kw)],
        "zeros": [lambda **kw: torch.zeros(2, 3, **kw)],
        "ones": [lambda **kw: torch.ones(2, 3, **kw)],
        "empty": [lambda **kw: torch.empty(2, 3, **kw)],
        "full": [lambda **kw: torch.full((2, 3), 1.5, **kw)],
        "rand": [lambda **kw: torch.rand(2, 3, **kw)],
        "randn": [lambda **kw: torch.randn(2, 3, **kw)],
        "randint": [lambda **kw: torch.randint(0, 5, (3,), **kw)],
        "randperm": [lambda **kw: torch.randperm(4, **kw)],
        "arange": [lambda **kw: torch.arange(0.0, 3.0, **kw)],
        "linspace": [lambda **kw: torch.linspace(0.0, 1.0, 3, **kw), lambda **kw: torch.linspace(s, s + 1, 3, **kw)],
        "logspace": [lambda **kw: torch.logspace(0.0, 1.0, 3, **kw), lambda **kw: torch.logspace(s, s + 1, 3, **kw)],
        "eye": [lambda **kw: torch.eye(3, **kw)],
        "zeros_like": [lambda **kw: torch.zeros_like(g, **kw)],
        "ones_like": [lambda **kw: torch.ones_like(g, **kw)],
        "empty_like": [lambda **kw: torch.empty_like(g, **kw)],
        "full_like": [lambda **kw: torch.full_like(g, 2.0, **kw)],
        "rand_like": [lambda **kw: torch.rand_like(g, **kw)],
        "randn_like": [lambda **kw: torch.randn_like(g, **kw)],
        "randint_like": [lambda **kw: torch.randint_like(g, 5, **kw)],
        "scalar_tensor": [lambda **kw: torch.scalar_tensor(1.5, **kw)],
    }


# Factories whose default dtype is an integer one: only a float dtype may require grad.
FLOAT_DTYPE_FOR_GRAD = {"randint": torch.float32, "randperm": torch.float32}
FACTORIES_WITHOUT_REQUIRES_GRAD = {"as_tensor", "from_numpy"}  # their signatures take no requires_grad


@pytest.mark.filterwarnings("ignore:To copy construct from a tensor")
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")
@pytest.mark.parametrize("name", sorted(K.TENSOR_FACTORIES))
def test_tensor_factory(name):
    assert callable(getattr(torch, name))
    g, s = grad_leaf(2), grad_leaf(())
    examples = _factory_examples(g, s)[name]
    for make in examples:
        assert_no_grad_tensor(make())  # fresh, whatever requires-grad tensors went in
    if name in FACTORIES_WITHOUT_REQUIRES_GRAD:
        with pytest.raises(TypeError):
            examples[0](requires_grad=True)
        return
    extra = {"dtype": FLOAT_DTYPE_FOR_GRAD[name]} if name in FLOAT_DTYPE_FOR_GRAD else {}
    for make in examples:
        out = make(requires_grad=True, **extra)
        assert out.requires_grad and out.is_leaf
        assert_numpy_raises(out)
        out = make(requires_grad=False, **extra)
        assert not out.requires_grad


def test_every_factory_has_an_example():
    assert set(_factory_examples(None, None)) == set(K.TENSOR_FACTORIES)


@pytest.mark.filterwarnings("ignore:torch.asarray. unspecified requires_grad")
@pytest.mark.parametrize("name", sorted(K.FACTORIES_PASSING_TENSORS))
def test_factory_passing_tensors(name):
    assert name in K.TENSOR_FACTORIES
    factory = getattr(torch, name)
    g = grad_leaf(3)
    assert factory(g) is g
    for kwargs in ({"dtype": torch.float64}, {"dtype": torch.float32}, {"device": "cpu"}):
        out = factory(g, **kwargs)
        assert out.requires_grad
        assert_numpy_raises(out)
    y = g * 2
    assert factory(y) is y and factory(y).requires_grad


def test_asarray_with_requires_grad_false_returns_a_tensor_without_grad():
    """Only an explicit `requires_grad=False` stops `torch.asarray` passing grad on (on a leaf it even switches
    off requires_grad of the tensor passed in, which it returns)."""
    y = grad_leaf(3) * 2
    assert_no_grad_tensor(torch.asarray(y, requires_grad=False))
    assert y.requires_grad
    g = grad_leaf(3)
    out = torch.asarray(g, requires_grad=False)
    assert out is g and not g.requires_grad


# ---------------------------------------------------------------------------------------------------------------
# NON_DIFFERENTIABLE_OPS and NON_DIFFERENTIABLE_METHODS
# ---------------------------------------------------------------------------------------------------------------

def _op_arguments(name):
    """Example arguments for `torch.<name>(*args, **kwargs)` (and `args[0].<name>(*args[1:], **kwargs)`), every float
    tensor among them requiring grad."""
    g, h = grad_leaf(2, 3), grad_leaf(2, 3)
    if name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
                "isclose", "isin", "logical_and", "logical_or", "logical_xor"):
        return (g, h), {}
    if name == "bucketize":
        return (g, torch.tensor([-1.0, 0.0, 1.0], requires_grad=True)), {}
    if name == "searchsorted":
        return (torch.tensor([-1.0, 0.0, 1.0], requires_grad=True), g), {}
    if name == "histc":
        return (g,), {"bins": 4}
    if name == "full_like":
        return (g, 2.0), {}
    if name == "randint_like":
        return (g, 5), {}
    return (g,), {}


# Ops defined only on integer / bool tensors: no tensor they accept can require grad.
INTEGER_ONLY_OPS = {"bitwise_and": 2, "bitwise_or": 2, "bitwise_xor": 2, "bitwise_not": 1}


def _non_differentiable_op_variants(name):
    variants = []
    if hasattr(torch, name):
        variants.append(("function", getattr(torch, name)))
    if hasattr(torch.Tensor, name):
        variants.append(("method", lambda first, *rest, **kw: getattr(first, name)(*rest, **kw)))
    return variants


@pytest.mark.parametrize("name", sorted(K.NON_DIFFERENTIABLE_OPS))
def test_non_differentiable_op(name):
    variants = _non_differentiable_op_variants(name)
    assert variants, f"neither torch.{name} nor Tensor.{name} exists"
    for _, op in variants:
        if name in INTEGER_ONLY_OPS:
            arity = INTEGER_ONLY_OPS[name]
            with pytest.raises((RuntimeError, TypeError, NotImplementedError)):
                op(*[grad_leaf(2, 3) for _ in range(arity)])  # a tensor that can require grad is refused
            with pytest.raises(RuntimeError, match="floating point"):
                torch.tensor([1, 2]).requires_grad_()  # and an integer tensor cannot require grad
            assert_no_grad_tensor(op(*[torch.tensor([1, 6]) for _ in range(arity)]))
            assert_no_grad_tensor(op(*[torch.tensor([True, False]) for _ in range(arity)]))
            continue
        args, kwargs = _op_arguments(name)
        assert any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
        assert torch.is_grad_enabled()
        assert_no_grad_tensor(op(*args, **kwargs))


def test_disproven_entries_stay_out_of_the_tables():
    """Entries the tables once had and torch disproves: each must stay out of its table."""
    g = grad_leaf(4)
    # `//` and floor_divide have a zero gradient, but their outputs still require grad
    assert (g // 2).requires_grad and torch.floor_divide(g, 2).requires_grad and g.floor_divide(2).requires_grad
    assert_numpy_raises(g // 2)
    assert "floor_divide" not in K.NON_DIFFERENTIABLE_OPS
    # bincount with requires-grad weights is differentiable in them
    assert torch.bincount(torch.tensor([0, 1, 1, 3]), weights=g).requires_grad
    assert "bincount" not in K.NON_DIFFERENTIABLE_OPS
    # torch.normal is differentiable in a tensor mean / std (the reparametrisation trick): not a fresh tensor
    assert torch.normal(g, 1.0).requires_grad and torch.normal(0.0, g.abs() + 1).requires_grad
    assert not torch.normal(0.0, 1.0, (2,)).requires_grad
    assert "normal" not in K.TENSOR_FACTORIES
    # named tensors are gone: a Tensor has no `names` attribute
    with pytest.raises(AttributeError):
        g.names
    assert "names" not in K.NON_TENSOR_ATTRIBUTES
    # cummax / cummin need a dim: without one they raise, they do not return the pair
    for name in ("cummax", "cummin"):
        with pytest.raises(TypeError, match="dim"):
            getattr(g, name)()
        assert K.VALUES_INDICES_OPS[name] is False


def _non_differentiable_method_call(name, g, s):
    if name == "new_full":
        return g.new_full((2,), 1.5)
    if name == "new_tensor":
        return g.new_tensor([1.0, 2.0])
    if name.startswith("new_"):
        return getattr(g, name)(2, 3)
    return getattr(g, name)()


@pytest.mark.filterwarnings("ignore:To copy construct from a tensor")
@pytest.mark.parametrize("name", sorted(K.NON_DIFFERENTIABLE_METHODS))
def test_non_differentiable_method(name):
    assert hasattr(torch.Tensor, name)
    g, s = grad_leaf(2, 3), grad_leaf(())
    out = _non_differentiable_method_call(name, g, s)
    assert_no_grad_tensor(out)
    assert_no_grad_tensor(_non_differentiable_method_call(name, g * 2, s))
    if name == "new_tensor":
        assert_no_grad_tensor(g.new_tensor(s))  # a requires-grad tensor as data is copied without its grad
    if not name.startswith("new_"):
        assert not out.dtype.is_floating_point and not out.dtype.is_complex


@pytest.mark.filterwarnings("ignore:To copy construct from a tensor")
@pytest.mark.parametrize("name", sorted(K.SAME_DEVICE_FACTORY_METHODS))
def test_same_device_factory_method_makes_its_tensor_where_the_receiver_is(name):
    """`x.new_zeros(n)` lands on `x`'s device: shown with the meta device, which, like a GPU, is not the CPU."""
    assert name in K.NON_DIFFERENTIABLE_METHODS
    receiver = torch.randn(2, 3, device="meta")
    if name == "new_full":
        out = receiver.new_full((2,), 1.0)
    elif name == "new_tensor":
        out = receiver.new_tensor([1.0, 2.0])
    else:
        out = getattr(receiver, name)(2)
    assert out.device == receiver.device


def test_new_factories_with_requires_grad_true_require_grad():
    """Like the torch factories, `x.new_*(..., requires_grad=True)` creates a leaf that requires grad."""
    g = grad_leaf(2)
    for out in (g.new_zeros(2, requires_grad=True), g.new_ones(2, requires_grad=True),
                g.new_empty(2, requires_grad=True), g.new_full((2,), 1.0, requires_grad=True),
                g.new_tensor([1.0], requires_grad=True)):
        assert out.requires_grad


# ---------------------------------------------------------------------------------------------------------------
# DETACHING_METHODS and DETACHING_ATTRIBUTES
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(K.DETACHING_METHODS))
def test_detaching_method(name):
    g = grad_leaf(3)
    y = g * 2
    assert y.requires_grad
    out = getattr(y, name)()
    assert_no_grad_tensor(out)
    if name.endswith("_"):  # in place: the receiver itself no longer requires grad
        assert out is y
        assert_no_grad_tensor(y)
    else:
        assert y.requires_grad
    leaf = grad_leaf(3)
    assert_no_grad_tensor(getattr(leaf, name)())


@pytest.mark.parametrize("name", sorted(K.DETACHING_ATTRIBUTES))
def test_detaching_attribute(name):
    g = grad_leaf(3)
    if name == "grad":
        assert g.grad is None  # before backward there is none
        (g * g).sum().backward()
        out = g.grad
        assert torch.equal(out, 2 * g.detach())
    else:
        out = getattr(g, name)
    assert_no_grad_tensor(out)
    assert_no_grad_tensor(getattr(nn.Linear(2, 2).weight, name) if name == "data" else out)


def test_grad_of_a_parameter_after_backward_does_not_require_grad():
    layer = nn.Linear(2, 1)
    layer(torch.randn(3, 2)).sum().backward()
    assert_no_grad_tensor(layer.weight.grad)


# ---------------------------------------------------------------------------------------------------------------
# NON_TENSOR_ATTRIBUTES and NON_TENSOR_METHODS
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(K.NON_TENSOR_ATTRIBUTES))
def test_non_tensor_attribute(name):
    g = grad_leaf(2, 3)
    for t in (g, g * 2):
        value = getattr(t, name)
        assert not isinstance(value, torch.Tensor)


def _non_tensor_method_call(name):
    """Call Tensor.<name> on a tensor that requires grad, set up so that the call is valid."""
    if name == "item":
        return grad_leaf(1).item()
    if name == "equal":
        g = grad_leaf(3)
        return g.equal(g * 1)
    if name == "backward":
        return (grad_leaf(3) * 2).sum().backward()
    if name == "register_hook":
        g = grad_leaf(3)
        seen = []
        handle = g.register_hook(lambda grad: seen.append(grad))
        (g * 2).sum().backward()
        assert len(seen) == 1
        return handle
    if name == "retain_grad":
        g = grad_leaf(3)
        y = g * 2
        result = y.retain_grad()
        y.sum().backward()
        assert_no_grad_tensor(y.grad)
        return result
    if name == "__len__":
        return len(grad_leaf(3, 2))
    return getattr(grad_leaf(3, 2) * 2, name)()


@pytest.mark.parametrize("name", sorted(K.NON_TENSOR_METHODS))
def test_non_tensor_method(name):
    assert callable(getattr(torch.Tensor, name))
    value = _non_tensor_method_call(name)
    assert not isinstance(value, torch.Tensor)


# ---------------------------------------------------------------------------------------------------------------
# VALUES_INDICES_OPS
# ---------------------------------------------------------------------------------------------------------------

K_ARGUMENT = {"kthvalue": 1, "topk": 2}


def _assert_values_indices(result):
    assert isinstance(result, tuple) and len(result) == 2
    values, indices = result
    assert values is result.values and indices is result.indices
    assert values.requires_grad
    assert_numpy_raises(values)
    assert indices.dtype == torch.int64
    assert_no_grad_tensor(indices)


@pytest.mark.parametrize("name, without_dim", sorted(K.VALUES_INDICES_OPS.items()))
def test_values_indices_op(name, without_dim):
    x = grad_leaf(3, 4)
    k = (K_ARGUMENT[name],) if name in K_ARGUMENT else ()
    # with a dim: a (values, indices) pair, as a method and as a torch function, dim by position or keyword
    _assert_values_indices(getattr(x, name)(*k, dim=0))
    _assert_values_indices(getattr(torch, name)(x, *k, dim=0))
    _assert_values_indices(getattr(torch, name)(x, *k, 0))
    _assert_values_indices(getattr(x, name)(*k, 0))
    # without one: the pair too (True), or no pair (False): a plain tensor, or an error where dim is required
    for call in (lambda: getattr(x, name)(*k), lambda: getattr(torch, name)(x, *k)):
        if without_dim:
            _assert_values_indices(call())
            continue
        try:
            result = call()
        except TypeError as exc:
            assert "dim" in str(exc)
            continue
        assert type(result) is torch.Tensor
        assert result.requires_grad


def test_max_min_of_two_tensors_is_elementwise():
    x, y = grad_leaf(3), grad_leaf(3)
    for name in ("max", "min"):
        result = getattr(torch, name)(x, y)
        assert type(result) is torch.Tensor and result.requires_grad


# ---------------------------------------------------------------------------------------------------------------
# FULL_REDUCTIONS and FUNCTIONAL_LOSSES
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(K.FULL_REDUCTIONS))
def test_full_reduction(name):
    g = grad_leaf(2, 3)
    for out in (getattr(g, name)(), getattr(torch, name)(g)):  # without a dim: one number, still in the graph
        assert isinstance(out, torch.Tensor) and out.dim() == 0
        assert out.requires_grad
        assert_numpy_raises(out)
        assert isinstance(out.item(), float)
    with_dim = [getattr(g, name)(dim=1), getattr(torch, name)(g, dim=0)]
    if name != "norm":
        with_dim += [getattr(g, name)(0), getattr(torch, name)(g, 0)]
    else:  # norm's first argument is `p`, not `dim`: `x.norm(2)` is still a single number
        assert g.norm(2).dim() == 0 and torch.norm(g, 1).dim() == 0
    for out in with_dim:
        assert out.dim() == 1 and out.requires_grad  # with one: not a single number


def test_logsumexp_needs_a_dim_so_it_is_no_full_reduction():
    g = grad_leaf(2, 3)
    for call in (g.logsumexp, lambda: torch.logsumexp(g)):
        with pytest.raises(TypeError, match="dim"):
            call()
    assert "logsumexp" not in K.FULL_REDUCTIONS


FUNCTIONAL_LOSS_MODULES = {
    "mse_loss": "MSELoss", "l1_loss": "L1Loss", "smooth_l1_loss": "SmoothL1Loss", "huber_loss": "HuberLoss",
    "cross_entropy": "CrossEntropyLoss", "nll_loss": "NLLLoss", "binary_cross_entropy": "BCELoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss", "kl_div": "KLDivLoss",
    "cosine_embedding_loss": "CosineEmbeddingLoss", "margin_ranking_loss": "MarginRankingLoss",
    "triplet_margin_loss": "TripletMarginLoss", "poisson_nll_loss": "PoissonNLLLoss",
    "gaussian_nll_loss": "GaussianNLLLoss", "hinge_embedding_loss": "HingeEmbeddingLoss",
    "soft_margin_loss": "SoftMarginLoss", "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
    "multi_margin_loss": "MultiMarginLoss", "ctc_loss": "CTCLoss",
}


def test_every_functional_loss_has_an_example():
    assert set(FUNCTIONAL_LOSS_MODULES) == set(K.FUNCTIONAL_LOSSES)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("name", sorted(K.FUNCTIONAL_LOSSES))
def test_functional_loss(name):
    loss = getattr(torch.nn.functional, name)
    make_inputs = PARAMETER_FREE_EXAMPLES[FUNCTIONAL_LOSS_MODULES[name]][2]  # same arguments as the module
    inputs = _flatten_inputs(make_inputs())
    inputs[0].requires_grad_()
    for kwargs in ({}, {"reduction": "mean"}, {"reduction": "sum"}):
        out = loss(*inputs, **kwargs)
        assert out.dim() == 0 and out.requires_grad  # a single number, in the graph
        assert_numpy_raises(out)
    out = loss(*inputs, reduction="none")
    assert out.dim() > 0 and out.requires_grad  # one per element: not a single number


# ---------------------------------------------------------------------------------------------------------------
# NON_DIFFERENTIABLE_NN_UTILS and DISTRIBUTION_SAMPLERS
# ---------------------------------------------------------------------------------------------------------------

def _grads_that_require_grad():
    """A layer whose `.grad`s require grad themselves (backward with create_graph=True): the hardest case."""
    layer = nn.Linear(2, 2)
    layer(torch.randn(3, 2)).pow(2).sum().backward(create_graph=True)
    assert all(p.grad.requires_grad for p in layer.parameters())
    return layer


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("name", sorted(K.NON_DIFFERENTIABLE_NN_UTILS))
def test_non_differentiable_nn_util(name):
    util = getattr(torch.nn.utils, name)
    for layer in (_grads_that_require_grad(), _grads_that_require_grad().requires_grad_()):
        if name == "get_total_norm":
            outs = [util([p.grad for p in layer.parameters()]), util(list(layer.parameters())), util([grad_leaf(3)])]
        elif name == "clip_grad_norm_":
            outs = [util(layer.parameters(), 0.1), util(list(layer.parameters()), max_norm=0.1, norm_type=1.0)]
        else:
            outs = [util(layer.parameters(), 0.1)]
        for out in outs:
            assert out is None or (isinstance(out, torch.Tensor) and not out.requires_grad)
            if out is not None:
                out.numpy()


def _distributions(g):
    return [torch.distributions.Normal(g, 1.0), torch.distributions.Normal(0.0, g.exp()),
            torch.distributions.Uniform(g - 1, g + 1), torch.distributions.Bernoulli(logits=g),
            torch.distributions.Categorical(logits=g), torch.distributions.MultivariateNormal(g, torch.eye(3))]


@pytest.mark.filterwarnings("ignore:`sample_n\\(n\\)` will be deprecated")
@pytest.mark.parametrize("name", sorted(K.DISTRIBUTION_SAMPLERS))
def test_distribution_sampler(name):
    g = grad_leaf(3)
    for distribution in _distributions(g):
        out = getattr(distribution, name)() if name == "sample" else getattr(distribution, name)(2)
        assert_no_grad_tensor(out)
        assert_no_grad_tensor(getattr(distribution, name)((2,)) if name == "sample" else out)
        if distribution.has_rsample:  # the reparametrised draw keeps the graph: it is not in the table
            assert distribution.rsample().requires_grad
        assert distribution.log_prob(out).requires_grad


# ---------------------------------------------------------------------------------------------------------------
# TENSOR_TYPES
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("qname", sorted(K.TENSOR_TYPES))
def test_tensor_type(qname):
    annotation = resolve(qname)
    examples = [nn.Parameter(torch.randn(2))]
    if "Parameter" not in qname:
        examples += [torch.randn(2), grad_leaf(2) * 2]
    for value in examples:
        assert isinstance(value, annotation)  # what such an annotation describes is a torch tensor
        assert isinstance(value, torch.Tensor)
    assert isinstance(annotation(2) if "Parameter" not in qname else annotation(torch.randn(2)), torch.Tensor)


# ---------------------------------------------------------------------------------------------------------------
# Narrowing: ARRAY_TYPES, TENSOR_PREDICATES, TENSOR_ONLY_ATTRIBUTES (a branch on them says tensor or not)
# ---------------------------------------------------------------------------------------------------------------

NOT_TENSORS = [np.zeros(2), [1.0, 2.0], 3.0, np.float32(1.5)]


@pytest.mark.parametrize("qname", sorted(K.ARRAY_TYPES))
def test_array_type_excludes_tensors(qname):
    kind = resolve(qname)
    assert isinstance(np.zeros(2), kind)
    for tensor in (torch.randn(2), grad_leaf(2) * 2, nn.Parameter(torch.randn(2))):
        assert not isinstance(tensor, kind)


@pytest.mark.parametrize("qname", sorted(K.TENSOR_PREDICATES))
def test_tensor_predicate_is_true_exactly_for_tensors(qname):
    predicate = resolve(qname)
    for tensor in (torch.randn(2), grad_leaf(2) * 2, nn.Parameter(torch.randn(2))):
        assert predicate(tensor) is True
    for other in NOT_TENSORS:
        assert predicate(other) is False


@pytest.mark.parametrize("name", sorted(K.TENSOR_ONLY_ATTRIBUTES))
def test_tensor_only_attribute(name):
    for tensor in (torch.randn(2), grad_leaf(2) * 2):
        assert hasattr(tensor, name)
    for other in NOT_TENSORS:
        assert not hasattr(other, name), type(other)


# ---------------------------------------------------------------------------------------------------------------
# INTEGER_DTYPES
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("qname", sorted(K.INTEGER_DTYPES))
def test_integer_dtype(qname):
    dtype = resolve(qname)
    assert isinstance(dtype, torch.dtype)
    assert not dtype.is_floating_point and not dtype.is_complex
    g = grad_leaf(3)
    for out in (g.to(dtype), g.to(dtype=dtype), (g * 2).to(dtype), g.type(dtype), g.to("cpu", dtype)):
        assert out.dtype == dtype
        assert_no_grad_tensor(out)


def test_float_dtypes_keep_grad():
    g = grad_leaf(3)
    for dtype in (torch.float64, torch.float16, torch.bfloat16, torch.complex64):
        assert g.to(dtype).requires_grad


# ---------------------------------------------------------------------------------------------------------------
# PARAMETER_FREE_MODULES and MODULE_CONTAINERS
# ---------------------------------------------------------------------------------------------------------------

def _x(*shape):
    return lambda: [torch.randn(*shape)]


def _loss(*tensors):
    return lambda: [t() if callable(t) else t for t in tensors]


def _probabilities(*shape):
    return lambda: torch.rand(*shape) * 0.8 + 0.1


def _signs(n):
    return torch.tensor([1.0, -1.0] * (n // 2))


# name -> (constructor args, constructor kwargs, inputs): the first input is the one made to require grad.
PARAMETER_FREE_EXAMPLES = {
    **{name: ((), {}, _x(2, 4)) for name in (
        "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Softplus",
        "Softsign", "Softshrink", "Hardshrink", "Hardtanh", "Hardsigmoid", "Hardswish", "Tanhshrink", "GLU",
        "LogSigmoid", "Dropout", "AlphaDropout", "Identity", "Flatten")},
    **{name: ((), {"dim": -1}, _x(2, 4)) for name in ("Softmax", "Softmin", "LogSoftmax")},
    "Threshold": ((0.1, 0.0), {}, _x(2, 4)),
    "Softmax2d": ((), {}, _x(1, 2, 3, 3)),
    "Dropout1d": ((), {}, _x(1, 2, 4)),
    "Dropout2d": ((), {}, _x(1, 2, 3, 3)),
    "Dropout3d": ((), {}, _x(1, 2, 2, 2, 2)),
    "FeatureAlphaDropout": ((), {}, _x(1, 2, 3, 3)),
    "Unflatten": ((1, (2, 2)), {}, _x(2, 4)),
    "MaxPool1d": ((2,), {}, _x(1, 2, 4)),
    "MaxPool2d": ((2,), {}, _x(1, 2, 4, 4)),
    "MaxPool3d": ((2,), {}, _x(1, 1, 2, 2, 2)),
    "AvgPool1d": ((2,), {}, _x(1, 2, 4)),
    "AvgPool2d": ((2,), {}, _x(1, 2, 4, 4)),
    "AvgPool3d": ((2,), {}, _x(1, 1, 2, 2, 2)),
    "LPPool1d": ((2, 2), {}, _x(1, 2, 4)),
    "LPPool2d": ((2, 2), {}, _x(1, 2, 4, 4)),
    "AdaptiveAvgPool1d": ((1,), {}, _x(1, 2, 4)),
    "AdaptiveAvgPool2d": ((1,), {}, _x(1, 2, 4, 4)),
    "AdaptiveAvgPool3d": ((1,), {}, _x(1, 1, 2, 2, 2)),
    "AdaptiveMaxPool1d": ((1,), {}, _x(1, 2, 4)),
    "AdaptiveMaxPool2d": ((1,), {}, _x(1, 2, 4, 4)),
    "AdaptiveMaxPool3d": ((1,), {}, _x(1, 1, 2, 2, 2)),
    "Upsample": ((), {"scale_factor": 2}, _x(1, 1, 2, 2)),
    "UpsamplingNearest2d": ((), {"scale_factor": 2}, _x(1, 1, 2, 2)),
    "UpsamplingBilinear2d": ((), {"scale_factor": 2}, _x(1, 1, 2, 2)),
    "PixelShuffle": ((2,), {}, _x(1, 4, 2, 2)),
    "PixelUnshuffle": ((2,), {}, _x(1, 1, 4, 4)),
    "ChannelShuffle": ((2,), {}, _x(1, 4, 2, 2)),
    "ZeroPad1d": ((1,), {}, _x(1, 2, 3)),
    "ZeroPad2d": ((1,), {}, _x(1, 1, 2, 2)),
    "ZeroPad3d": ((1,), {}, _x(1, 1, 2, 2, 2)),
    "ConstantPad1d": ((1, 0.5), {}, _x(1, 2, 3)),
    "ConstantPad2d": ((1, 0.5), {}, _x(1, 1, 2, 2)),
    "ConstantPad3d": ((1, 0.5), {}, _x(1, 1, 2, 2, 2)),
    "ReflectionPad1d": ((1,), {}, _x(1, 2, 3)),
    "ReflectionPad2d": ((1,), {}, _x(1, 1, 3, 3)),
    "ReflectionPad3d": ((1,), {}, _x(1, 1, 3, 3, 3)),
    "ReplicationPad1d": ((1,), {}, _x(1, 2, 3)),
    "ReplicationPad2d": ((1,), {}, _x(1, 1, 3, 3)),
    "ReplicationPad3d": ((1,), {}, _x(1, 1, 3, 3, 3)),
    "CosineSimilarity": ((), {}, _loss(_x(2, 4), torch.randn(2, 4))),
    "PairwiseDistance": ((), {}, _loss(_x(2, 4), torch.randn(2, 4))),
    **{name: ((), {}, _loss(_x(2, 3), torch.randn(2, 3)))
       for name in ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "PoissonNLLLoss")},
    "CrossEntropyLoss": ((), {}, _loss(_x(2, 3), torch.tensor([0, 2]))),
    "NLLLoss": ((), {}, _loss(lambda: [torch.randn(2, 3).log_softmax(-1)], torch.tensor([0, 2]))),
    "BCELoss": ((), {}, _loss(lambda: [_probabilities(2)()], _probabilities(2))),
    "BCEWithLogitsLoss": ((), {}, _loss(_x(2), _probabilities(2))),
    "KLDivLoss": ((), {"reduction": "batchmean"},
                  _loss(lambda: [torch.randn(2, 3).log_softmax(-1)], lambda: torch.rand(2, 3).softmax(-1))),
    "CosineEmbeddingLoss": ((), {}, _loss(_x(2, 4), torch.randn(2, 4), _signs(2))),
    "MarginRankingLoss": ((), {}, _loss(_x(2), torch.randn(2), _signs(2))),
    "TripletMarginLoss": ((), {}, _loss(_x(2, 4), torch.randn(2, 4), torch.randn(2, 4))),
    "CTCLoss": ((), {}, _loss(lambda: [torch.randn(5, 1, 3).log_softmax(-1)], torch.tensor([[1, 2]]),
                              torch.tensor([5]), torch.tensor([2]))),
    "GaussianNLLLoss": ((), {}, _loss(_x(2), torch.randn(2), lambda: torch.rand(2) + 0.5)),
    "HingeEmbeddingLoss": ((), {}, _loss(_x(2), _signs(2))),
    "SoftMarginLoss": ((), {}, _loss(_x(2), _signs(2))),
    "MultiLabelMarginLoss": ((), {}, _loss(_x(1, 4), torch.tensor([[3, 0, -1, 1]]))),
    "MultiLabelSoftMarginLoss": ((), {}, _loss(_x(2, 3), torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))),
    "MultiMarginLoss": ((), {}, _loss(_x(2, 3), torch.tensor([0, 2]))),
}


def _flatten_inputs(inputs):
    flat = []
    for item in inputs:
        flat.extend(item if isinstance(item, list) else [item])
    return flat


def test_every_parameter_free_module_has_an_example():
    assert set(PARAMETER_FREE_EXAMPLES) == set(K.PARAMETER_FREE_MODULES)


@pytest.mark.parametrize("name", sorted(K.PARAMETER_FREE_MODULES))
def test_parameter_free_module(name):
    cls = getattr(nn, name)
    assert issubclass(cls, nn.Module)
    args, kwargs, make_inputs = PARAMETER_FREE_EXAMPLES[name]
    module = cls(*args, **kwargs)
    assert list(module.parameters()) == []
    assert all(not b.requires_grad for b in module.buffers())
    for training in (True, False):
        module.train(training)
        inputs = _flatten_inputs(make_inputs())
        out = module(*inputs)
        assert_no_grad_tensor(out)  # nothing requires grad in, nothing out
        inputs[0].requires_grad_()
        out = module(*inputs)
        assert isinstance(out, torch.Tensor) and out.requires_grad  # a differentiable function of its input
        assert_numpy_raises(out)


def _children(kind):
    return [nn.Linear(2, 2), nn.ReLU()] if kind == "with-parameters" else [nn.ReLU(), nn.Identity()]


def _container(name, children):
    if name == "ModuleDict":
        return nn.ModuleDict({f"m{i}": c for i, c in enumerate(children)})
    return getattr(nn, name)(children) if name == "ModuleList" else getattr(nn, name)(*children)


def _run_container(container, x):
    for child in (container.values() if isinstance(container, nn.ModuleDict) else container):
        x = child(x)
    return x


@pytest.mark.parametrize("name", sorted(K.MODULE_CONTAINERS))
def test_module_container(name):
    with_params = _container(name, _children("with-parameters"))
    params = list(with_params.parameters())
    assert params and all(p.requires_grad for p in params)
    out = _run_container(with_params, torch.randn(3, 2))
    assert out.requires_grad
    assert_numpy_raises(out)
    if name == "Sequential":
        assert with_params(torch.randn(3, 2)).requires_grad
    without = _container(name, _children("without"))
    assert list(without.parameters()) == []
    assert_no_grad_tensor(_run_container(without, torch.randn(3, 2)))


# ---------------------------------------------------------------------------------------------------------------
# PARAMETER_ATTRIBUTES and BUFFER_ATTRIBUTES
# ---------------------------------------------------------------------------------------------------------------

PARAMETER_OWNERS = {
    "weight": lambda: nn.Linear(2, 2), "bias": lambda: nn.Linear(2, 2),
    "in_proj_weight": lambda: nn.MultiheadAttention(4, 2), "in_proj_bias": lambda: nn.MultiheadAttention(4, 2),
    **{name: lambda: nn.LSTM(2, 3) for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")},
    **{name: lambda: nn.LSTMCell(2, 3) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")},
    **{name: lambda: nn.MultiheadAttention(4, 2, kdim=3, vdim=5)
       for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight")},
}


def test_every_parameter_attribute_has_an_owner():
    assert set(PARAMETER_OWNERS) == set(K.PARAMETER_ATTRIBUTES)


@pytest.mark.parametrize("name", sorted(K.PARAMETER_ATTRIBUTES))
def test_parameter_attribute(name):
    module = PARAMETER_OWNERS[name]()
    value = getattr(module, name)
    assert isinstance(value, nn.Parameter)
    assert name in dict(module.named_parameters(recurse=False))
    assert value.requires_grad
    assert_numpy_raises(value)
    with torch.no_grad():
        value.numpy()


@pytest.mark.parametrize("name", sorted(K.BUFFER_ATTRIBUTES))
def test_buffer_attribute(name):
    for cls, shape in ((nn.BatchNorm1d, (4, 3)), (nn.BatchNorm2d, (2, 3, 2, 2))):
        module = cls(3)
        module(grad_leaf(*shape)).sum().backward()  # a training step updates the running statistics
        value = getattr(module, name)
        assert name in dict(module.named_buffers())
        assert not isinstance(value, nn.Parameter)
        assert_no_grad_tensor(value)


# ---------------------------------------------------------------------------------------------------------------
# MODULE_BASES, MODEL_CONSTRUCTOR_PREFIXES, MODEL_FACTORY_METHODS, MODEL_LIBRARIES
# ---------------------------------------------------------------------------------------------------------------

def import_or_skip(name):
    """`pytest.importorskip`, but also skipping a library that is installed and fails to import (torchvision
    built for another torch build raises RuntimeError on import, and so does everything importing it)."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"could not import {name!r}: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("qname", sorted(K.MODULE_BASES))
def test_module_base(qname):
    root = qname.split(".")[0]
    if root != "torch":
        import_or_skip(root)
    base = resolve(qname)
    assert isinstance(base, type) and issubclass(base, nn.Module)
    if root == "torch":
        assert base is nn.Module


def _first_tensor(out):
    return out if isinstance(out, torch.Tensor) else out[0]


def _assert_model(model, *inputs):
    """A model with parameters that require grad; its output requires grad, in eval mode too, but not under no_grad."""
    assert isinstance(model, nn.Module)
    params = list(model.parameters())
    assert params and all(p.requires_grad for p in params)
    model.eval()
    assert all(p.requires_grad for p in model.parameters())
    if inputs:
        out = _first_tensor(model(*inputs))
        assert out.requires_grad
        assert_numpy_raises(out)
        with torch.no_grad():
            assert_no_grad_tensor(_first_tensor(model(*inputs)))


HUBCONF = '''
dependencies = ["torch"]

import torch


def model(width=3):
    """A tiny model with parameters."""
    return torch.nn.Sequential(torch.nn.Linear(2, width), torch.nn.ReLU())
'''


def _prove_constructor_prefix(prefix, tmp_path):
    if prefix == "torch.hub.load":
        (tmp_path / "hubconf.py").write_text(HUBCONF, encoding="utf-8")
        load = resolve(prefix)
        _assert_model(load(str(tmp_path), "model", source="local"), torch.randn(1, 2))
        _assert_model(load(str(tmp_path), "model", source="local", width=4), torch.randn(1, 2))
    elif prefix == "torchvision.models.":
        import_or_skip("torchvision")
        for name in ("resnet18", "mobilenet_v3_small"):
            _assert_model(resolve(prefix + name)(weights=None), torch.randn(1, 3, 32, 32))
    elif prefix == "timm.create_model":
        import_or_skip("timm")
        _assert_model(resolve(prefix)("resnet18", pretrained=False), torch.randn(1, 3, 32, 32))
    else:
        pytest.fail(f"no proof for the model constructor prefix {prefix!r}")


@pytest.mark.parametrize("prefix", K.MODEL_CONSTRUCTOR_PREFIXES)
def test_model_constructor_prefix(prefix, tmp_path):
    _prove_constructor_prefix(prefix, tmp_path)


def _tiny_bert_config(transformers):
    return transformers.BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=8, max_position_embeddings=16)


def _transformers_models(transformers, method, tmp_path):
    """Tiny transformers models built offline with `method`, and an input for them."""
    config = _tiny_bert_config(transformers)
    models = []
    for cls_name in ("BertModel", "AutoModel", "BertForSequenceClassification", "AutoModelForMaskedLM"):
        cls = getattr(transformers, cls_name)
        if method == "from_config":
            models.append(cls.from_config(config) if cls_name.startswith("Auto") else cls._from_config(config))
        else:
            transformers.BertModel(config).save_pretrained(tmp_path / cls_name)
            models.append(cls.from_pretrained(tmp_path / cls_name))
    return models, (torch.tensor([[1, 2, 3]]),)


def _diffusers_models(diffusers, method, tmp_path):
    config = dict(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(8,),
                  down_block_types=("DownBlock2D",), up_block_types=("UpBlock2D",), norm_num_groups=4)
    model = diffusers.UNet2DModel.from_config(config)
    if method == "from_pretrained":
        model.save_pretrained(tmp_path / "unet")
        model = diffusers.UNet2DModel.from_pretrained(tmp_path / "unet")
    return [model], (torch.randn(1, 1, 8, 8), torch.tensor([1]))


MODEL_LIBRARY_EXAMPLES = {"transformers": _transformers_models, "diffusers": _diffusers_models}


def test_every_model_library_has_an_example():
    assert set(MODEL_LIBRARY_EXAMPLES) == set(K.MODEL_LIBRARIES)


@pytest.mark.parametrize("method", sorted(K.MODEL_FACTORY_METHODS))
@pytest.mark.parametrize("library", K.MODEL_LIBRARIES)
def test_model_factory_method_of_a_model_library(library, method, tmp_path):
    lib = import_or_skip(library)
    models, inputs = MODEL_LIBRARY_EXAMPLES[library](lib, method, tmp_path)
    for model in models:
        name = type(model).__name__
        assert "Model" in name or "For" in name  # the analysis takes such classes of the library for models
        assert callable(getattr(type(model), method, None)) or method == "from_config"
        _assert_model(model, *inputs)


def test_peft_from_pretrained_is_frozen_so_peft_is_no_model_library(tmp_path):
    """peft's `PeftModel.from_pretrained` loads for inference by default: no parameter requires grad and
    neither does the output, so `.numpy()` on it converts. peft is therefore not in MODEL_LIBRARIES."""
    assert "peft" not in K.MODEL_LIBRARIES
    transformers, peft = import_or_skip("transformers"), import_or_skip("peft")
    config = _tiny_bert_config(transformers)
    peft.get_peft_model(transformers.BertModel(config), peft.LoraConfig(target_modules=["query"], r=2)) \
        .save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([[1, 2, 3]])
    frozen = peft.PeftModel.from_pretrained(transformers.BertModel(config), tmp_path / "adapter")
    assert not any(p.requires_grad for p in frozen.parameters())
    assert_no_grad_tensor(_first_tensor(frozen(input_ids=ids)))
    trainable = peft.PeftModel.from_pretrained(transformers.BertModel(config), tmp_path / "adapter",
                                               is_trainable=True)
    assert _first_tensor(trainable(input_ids=ids)).requires_grad


@pytest.mark.parametrize("library", ["sentence_transformers", "open_clip"])
def test_libraries_without_model_factory_methods_are_no_model_libraries(library):
    """Neither library has a class with `from_pretrained` / `from_config`: nothing there for the table to match."""
    assert library not in K.MODEL_LIBRARIES
    lib = import_or_skip(library)
    modules = [lib] + [m for m in (getattr(lib, "models", None),) if inspect.ismodule(m)]
    for module in modules:
        for name in dir(module):
            obj = getattr(module, name)
            if isinstance(obj, type):
                assert not any(hasattr(obj, method) for method in K.MODEL_FACTORY_METHODS), name


# ---------------------------------------------------------------------------------------------------------------
# Torch facts the analysis relies on outside the tables
# ---------------------------------------------------------------------------------------------------------------

class TinyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x))


def test_model_output_requires_grad_with_grad_on_only():
    model = TinyModel()
    x = torch.randn(4, 2)
    out = model(x)
    assert out.requires_grad
    assert_numpy_raises(out)
    model.eval()  # eval() changes dropout / batch norm, not grad
    out = model(x)
    assert out.requires_grad
    assert_numpy_raises(out)
    assert_numpy_raises(out.cpu())  # a device move keeps grad
    assert_numpy_raises(out.to("cpu"))
    assert_numpy_raises(model.forward(x))
    with torch.no_grad():
        assert_no_grad_tensor(model(x))
    with torch.inference_mode():
        assert_no_grad_tensor(model(x))
    assert not model(x).detach().requires_grad


def test_numpy_force_true_converts_a_grad_tensor():
    out = TinyModel()(torch.randn(2, 2))
    assert isinstance(out.numpy(force=True), np.ndarray)
    assert_numpy_raises(out)
    assert isinstance(out.detach().cpu().numpy(), np.ndarray)


def test_requires_grad_setters():
    x = torch.randn(3)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    assert_numpy_raises(x)
    x.requires_grad_(False)
    x.numpy()
    y = torch.randn(3)
    y.requires_grad = True
    assert_numpy_raises(y)
    assert_numpy_raises(torch.randn(3).requires_grad_(True))


def test_parameter_requires_grad_unless_told_not_to():
    p = nn.Parameter(torch.randn(3))
    assert p.requires_grad
    assert_numpy_raises(p)
    assert_numpy_raises(torch.nn.parameter.Parameter(torch.randn(3)))
    q = nn.Parameter(torch.randn(3), requires_grad=False)
    assert_no_grad_tensor(q)
    assert_no_grad_tensor(nn.Parameter(torch.randn(3), False))


def test_generator_yielding_inside_no_grad_leaves_grad_off_in_the_loop_body():
    model = TinyModel()

    def batches():
        with torch.no_grad():
            for _ in range(2):
                yield torch.randn(2, 2)

    for batch in batches():
        assert not torch.is_grad_enabled()
        assert_no_grad_tensor(model(batch))
    assert torch.is_grad_enabled()


def test_generator_decorated_with_no_grad_does_not_leak_grad_mode():
    model = TinyModel()

    @torch.no_grad()
    def batches():
        for _ in range(2):
            assert not torch.is_grad_enabled()  # inside the generator's own frames grad is off
            yield torch.randn(2, 2)

    for batch in batches():
        assert torch.is_grad_enabled()
        out = model(batch)
        assert out.requires_grad
        assert_numpy_raises(out)


def test_functional_call_output_requires_grad():
    model = TinyModel()
    params = dict(model.named_parameters())
    out = torch.func.functional_call(model, params, (torch.randn(2, 2),))
    assert out.requires_grad
    assert_numpy_raises(out)
    detached = {k: v.detach() for k, v in params.items()}
    assert_no_grad_tensor(torch.func.functional_call(model, detached, (torch.randn(2, 2),)))


def test_forward_hook_on_a_parameter_free_layer_sees_grad():
    model = TinyModel()
    seen = []
    handle = model.act.register_forward_hook(lambda module, inputs, output: seen.append(output))
    model(torch.randn(2, 2))
    handle.remove()
    assert len(seen) == 1 and seen[0].requires_grad
    assert_numpy_raises(seen[0])


def test_differentiable_ops_keep_requires_grad():
    x = grad_leaf(2, 3)
    kept = [torch.round(x), x.round(), x.clone(), x.float(), x.double(), x[0], x[:, 1:], x[x > 0], x.view(3, 2),
            x.reshape(-1), x.T, x.t(), x.transpose(0, 1), x.unsqueeze(0), x.squeeze(), x.flatten(), x.contiguous(),
            x.expand(2, 2, 3), x.cpu(), x.to("cpu"), x.to(torch.float64), x.sum(), x.mean(), torch.unique(x),
            x.unique(), torch.unique(x, return_counts=True)[0], x.abs(), x.sign(), x.floor(), x.ceil()]
    for out in kept:
        assert out.requires_grad
        assert_numpy_raises(out)
    values, inverse, counts = torch.unique(x, return_inverse=True, return_counts=True)
    assert values.requires_grad
    assert_no_grad_tensor(inverse)
    assert_no_grad_tensor(counts)


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_numpy_array_conversions_of_a_grad_tensor_raise():
    x = grad_leaf(3)
    with pytest.raises(RuntimeError, match=GRAD_ERROR):
        np.asarray(x)  # noqa: TNP003 (the point: it raises)
    with pytest.raises(RuntimeError, match=GRAD_ERROR):
        np.array(x)  # noqa: TNP003
    with torch.no_grad():
        assert isinstance(np.asarray(x), np.ndarray)


def test_python_value_conversions_of_a_grad_tensor_succeed():
    x = grad_leaf(3)
    s = x.sum()
    assert isinstance(float(s), float)
    assert isinstance(s.item(), float)
    assert isinstance(x.tolist(), list)
    assert isinstance(int(s), int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and without a warning
        float(s), s.item(), x.tolist()


# ---------------------------------------------------------------------------------------------------------------
# Library names as Python resolves them: re-exporting modules (pylab) and star imports (analysis/libraries.py)
# ---------------------------------------------------------------------------------------------------------------

def _names_the_tables_know(module: str):
    from detachify.registry import derived
    if module == "torch":
        ops = {name.split(".", 1)[1] for name in derived.load(derived.TORCH_OPS)["ops"]
               if name.count(".") == 1 and name.startswith("torch.")}
        return ops | K.TENSOR_FACTORIES | K.NON_DIFFERENTIABLE_OPS | {q.split(".")[-1] for q in K.GRAD_MODE_SETTERS}
    found = set()
    for source in L.REEXPORTING_MODULES.get(module, (module,)):
        found |= set(C.CONVERTING_FUNCTIONS.get(source, ())) | set(C.LIST_CONVERTING_FUNCTIONS.get(source, ()))
        found |= {q.rsplit(".", 1)[1] for q in C.AXES_FACTORIES if q.startswith(source + ".")}
    return {name for name in found if "." not in name} | set(L.REEXPORTED_NAMES.get(module, ()))


@pytest.mark.parametrize("module", sorted(L.REEXPORTING_MODULES))
def test_reexported_name_is_the_library_object(module):
    matplotlib.use("Agg")
    reexporting = importlib.import_module(module)
    for name in sorted(_names_the_tables_know(module)):
        canonical = L.canonical(f"{module}.{name}")
        assert not canonical.startswith(module + "."), name
        assert getattr(reexporting, name) is resolve(canonical), (name, canonical)


# d2l.torch imports torchvision, which does not load here: tests/test_d2l_facts.py proves its star import on its source.
@pytest.mark.parametrize("module", sorted(L.STAR_IMPORTABLE - {"d2l.torch"}))
def test_star_import_binds_what_the_analysis_resolves(module):
    matplotlib.use("Agg")
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(f"from {module} import *", namespace)
    checked = 0
    for name in sorted(_names_the_tables_know(module)):
        resolved = L.star_name([module], name)
        assert (name in L.NOT_STAR_EXPORTED.get(module, ())) is (name not in namespace), name
        if name not in namespace:
            assert resolved is None, f"`from {module} import *` does not bind {name!r}"
            continue
        if resolved is not None:
            assert namespace[name] is resolve(resolved), (name, resolved)
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("module", sorted(L.BUILTIN_ALIASES))
def test_compatibility_names_are_the_builtins(module):
    import builtins
    compat = importlib.import_module(module)
    for name in sorted(L.BUILTIN_ALIASES[module]):
        assert L.canonical(f"{module}.{name}") == f"builtins.{name}"
        assert getattr(compat, name) is getattr(builtins, name), name


def test_the_last_star_import_wins():
    assert L.star_name(["matplotlib.pylab", "torch"], "mean") == "torch.mean"
    assert L.star_name(["torch", "matplotlib.pylab"], "mean") == "numpy.mean"
    namespace = {}
    exec("from torch import *\nfrom matplotlib.pylab import *", namespace)
    assert namespace["mean"] is np.mean


# ---------------------------------------------------------------------------------------------------------------
# PASS_THROUGH_ITERABLES: a progress bar yields its iterable's elements themselves
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("qname", sorted(K.PASS_THROUGH_ITERABLES))
def test_pass_through_iterable_yields_the_elements_themselves(qname):
    import io

    pytest.importorskip("tqdm")
    wrap = resolve(qname)
    model = nn.Linear(3, 2)
    outputs = [model(torch.randn(2, 3)) for _ in range(3)]
    for bar in (wrap(outputs, file=io.StringIO()), wrap(iterable=outputs, file=io.StringIO(), total=3)):
        seen = list(bar)
        assert len(seen) == len(outputs) and all(a is b for a, b in zip(seen, outputs))
        assert_numpy_raises(seen[0])


# ---------------------------------------------------------------------------------------------------------------
# scikit-learn estimators (converters.ESTIMATOR_METHODS): their data methods convert a tensor argument
# ---------------------------------------------------------------------------------------------------------------

def _estimators():
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
    from sklearn.preprocessing import StandardScaler
    return [PCA(n_components=2), StandardScaler(), LinearRegression(), LogisticRegression(), KMeans(2, n_init=1),
            SGDClassifier()]  # TSNE converts the same way, ten times slower


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("method", sorted(C.ESTIMATOR_METHODS))
def test_estimator_method_converts_its_data(method):
    x, labels = torch.randn(12, 3, dtype=torch.float64, requires_grad=True), (torch.arange(12) % 2).numpy()
    tried = 0
    for estimator in _estimators():
        if not hasattr(estimator, method):
            continue
        if not method.startswith(("fit", "partial_fit")):
            estimator.fit(x.detach().numpy(), labels)  # fitted first, on plain data
        data = x[:, :2] * 1 if method == "inverse_transform" and hasattr(estimator, "n_components") else x * 1
        parameters = inspect.signature(getattr(estimator, method)).parameters
        rest = {"y": labels} if "y" in parameters else {}
        if "classes" in parameters:
            rest["classes"] = np.array([0, 1])
        with pytest.raises(RuntimeError, match=GRAD_ERROR):
            getattr(estimator, method)(data, **rest)
        getattr(estimator, method)(data.detach(), **rest)  # the same call on a detached copy runs
        tried += 1
    assert tried, f"no sample estimator has `{method}`"
    assert C.ESTIMATOR_MODULES == ("sklearn.",) and all(
        type(e).__module__.startswith("sklearn.") and type(e).__name__[:1].isupper() for e in _estimators())


@pytest.mark.parametrize("qname", sorted(K.CUDA_AVAILABILITY))
def test_without_cuda_nothing_is_on_a_gpu(qname):
    available = resolve(qname)()
    assert isinstance(available, bool)
    if available:
        pytest.skip("this machine has CUDA: the false branch cannot be shown here")
    with pytest.raises((AssertionError, RuntimeError)):
        torch.zeros(1).cuda()
    with pytest.raises((AssertionError, RuntimeError)):
        torch.zeros(1, device="cuda")


# ---------------------------------------------------------------------------------------------------------------
# AUTOGRAD_FUNCTION_BASES, ONCE_DIFFERENTIABLE: grad mode inside a custom autograd.Function
# ---------------------------------------------------------------------------------------------------------------

def _probing_function(base, decorate=lambda f: f):
    """A Function subclass of `base` recording grad mode and `.numpy()` on what forward and backward get."""
    seen = {}

    def record(phase, t):
        seen[phase] = (torch.is_grad_enabled(), t.requires_grad, _numpy_raises(t))

    class Probe(base):
        @staticmethod
        def forward(ctx, values):
            record("forward", values)
            return values.detach() * 2

        @staticmethod
        @decorate
        def backward(ctx, grad_output):
            record("backward", grad_output)
            return grad_output * 2

    return Probe, seen


def _numpy_raises(t) -> bool:
    try:
        t.numpy()  # noqa: TNP001 (the probe: it raises exactly when torch says so)
    except RuntimeError as error:
        assert "requires grad" in str(error)
        return True
    return False


@pytest.mark.parametrize("qname", sorted(K.AUTOGRAD_FUNCTION_BASES))
def test_autograd_function_backward_gets_grad_tensors_only_when_differentiated_twice(qname):
    probe, seen = _probing_function(resolve(qname))
    x, w = torch.randn(3, requires_grad=True), torch.randn(3, requires_grad=True)
    (probe.apply(x) * w).sum().backward()
    assert seen == {"forward": (False, True, False), "backward": (False, False, False)}
    torch.autograd.grad((probe.apply(x) * w).sum(), x, create_graph=True)
    assert seen == {"forward": (False, True, False), "backward": (True, True, True)}


@pytest.mark.parametrize("qname", sorted(K.ONCE_DIFFERENTIABLE))
def test_once_differentiable_backward_runs_with_grad_off(qname):
    probe, seen = _probing_function(torch.autograd.Function, resolve(qname))
    x, w = torch.randn(3, requires_grad=True), torch.randn(3, requires_grad=True)
    torch.autograd.grad((probe.apply(x) * w).sum(), x, create_graph=True)
    assert seen == {"forward": (False, True, False), "backward": (False, True, False)}


# ---------------------------------------------------------------------------------------------------------------
# The names the evaluation dispatches on (the last section of knowledge.py)
# ---------------------------------------------------------------------------------------------------------------

def test_builtin_names_live_in_the_builtins_module():
    import builtins
    assert resolve(K.BUILTINS) is builtins
    for name in ("len", "isinstance", "list", "max", "zip"):
        assert resolve(f"{K.BUILTINS}.{name}") is getattr(builtins, name)


@pytest.mark.parametrize("qname", sorted(K.INSTANCE_TESTS))
def test_instance_test_tells_tensors_from_arrays(qname):
    is_instance = resolve(qname)
    assert is_instance(grad_leaf(2), torch.Tensor) is True
    assert is_instance(np.zeros(2), torch.Tensor) is False
    assert is_instance(np.zeros(2), (list, np.ndarray)) is True  # a tuple of types admits what any of them does


@pytest.mark.parametrize("qname", sorted(K.ATTRIBUTE_TESTS))
def test_attribute_test_tells_tensors_by_their_attributes(qname):
    has_attribute = resolve(qname)
    for name in sorted(K.TENSOR_ONLY_ATTRIBUTES):
        assert has_attribute(grad_leaf(2), name) is True, name
        assert has_attribute(np.zeros(2), name) is False, name


@pytest.mark.parametrize("qname", sorted(K.TYPE_QUERIES))
def test_type_query_gives_the_exact_class(qname):
    type_of = resolve(qname)
    assert type_of(grad_leaf(2)) is torch.Tensor
    assert type_of(np.zeros(2)) is np.ndarray
    assert type_of(nn.Parameter(torch.zeros(2))) is not torch.Tensor  # why `type(x) is not T` says nothing


def test_only_the_universal_builtin_types_admit_tensors():
    import builtins
    tensors = [grad_leaf(2), nn.Parameter(torch.zeros(2)), torch.zeros(()), torch.zeros(2, dtype=torch.long)]
    admitting = {f"{K.BUILTINS}.{name}" for name, value in vars(builtins).items()
                 if isinstance(value, type) and any(isinstance(t, value) for t in tensors)}
    assert admitting == K.UNIVERSAL_TYPES


# How each spelling of a property decorator is bound where it is written (`from functools import cached_property`).
PROPERTY_DECORATOR_BINDINGS = {"property": "builtins.property", "cached_property": "functools.cached_property"}


@pytest.mark.parametrize("spelled", sorted(K.PROPERTY_DECORATORS))
def test_property_decorator_runs_the_method_when_the_attribute_is_read(spelled):
    decorator = resolve(PROPERTY_DECORATOR_BINDINGS.get(spelled, spelled))
    runs = []

    class Holder:
        def __init__(self):
            self.weight = grad_leaf(2)

        @decorator
        def doubled(self):
            runs.append(self)
            return self.weight * 2

    holder = Holder()
    value = holder.doubled
    assert runs == [holder]
    assert isinstance(value, torch.Tensor)
    assert_numpy_raises(value)


@pytest.mark.parametrize("qname", sorted(K.PARTIAL_APPLICATIONS))
def test_partial_application_fixes_the_first_arguments(qname):
    def scaled(factor, values):
        return factor * values

    x = grad_leaf(3)
    out = resolve(qname)(scaled, x)(torch.full((3,), 2.0))
    assert torch.equal(out.detach(), 2 * x.detach())
    assert_numpy_raises(out)


@pytest.mark.parametrize("qname", sorted(K.COPIES))
def test_copy_requires_grad_where_the_original_does(qname):
    copy_of = resolve(qname)
    leaf = grad_leaf(3)
    copied = copy_of(leaf)
    assert copied is not leaf
    assert_numpy_raises(copied)
    copy_of(leaf.detach()).numpy()
    model = copy_of(nn.Linear(2, 1))
    assert_numpy_raises(model(torch.randn(1, 2)))


@pytest.mark.parametrize("qname", sorted(K.GRAD_MODE_QUERIES))
def test_grad_mode_query_says_whether_grad_mode_is_on(qname):
    is_enabled = resolve(qname)
    assert is_enabled() is True
    with torch.no_grad():
        assert is_enabled() is False
    torch.set_grad_enabled(False)
    assert is_enabled() is False


# One differentiable call per namespace: a call there on a grad tensor keeps its grad, as the analysis takes it.
TORCH_FUNCTION_EXAMPLES = {
    "torch": lambda ns, x: ns.sin(x),
    "torch.nn.functional": lambda ns, x: ns.relu(x),
    "torch.special": lambda ns, x: ns.expit(x),
    "torch.linalg": lambda ns, x: ns.vector_norm(x),
    "torch.fft": lambda ns, x: ns.fft(x).real,
    "torch.func": lambda ns, x: ns.functional_call(nn.Linear(3, 1), {"weight": x.view(1, 3)}, (torch.ones(3),)),
}


def test_every_torch_function_namespace_has_an_example():
    assert set(TORCH_FUNCTION_EXAMPLES) == K.TORCH_FUNCTION_NAMESPACES


@pytest.mark.parametrize("namespace", sorted(K.TORCH_FUNCTION_NAMESPACES))
def test_torch_function_namespace_holds_functions_that_keep_grad(namespace):
    functions = resolve(namespace)
    assert inspect.ismodule(functions) and functions.__name__ == namespace
    assert_numpy_raises(TORCH_FUNCTION_EXAMPLES[namespace](functions, grad_leaf(3)))


def test_tensor_factories_are_functions_of_torch():
    assert K.TORCH in K.TORCH_FUNCTION_NAMESPACES
    assert resolve(K.TORCH) is torch
    assert all(callable(getattr(torch, name)) for name in K.TENSOR_FACTORIES)


def test_tensor_methods_are_derived_under_the_tensor_class():
    assert resolve(K.TENSOR_CLASS) is torch.Tensor
    methods = [name for name in derived.load(derived.TORCH_OPS)["ops"] if name.startswith(K.TENSOR_CLASS + ".")]
    assert len(methods) > 100
    assert all(hasattr(torch.Tensor, name[len(K.TENSOR_CLASS) + 1:]) for name in methods)


@pytest.mark.parametrize("qname", sorted(K.PARAMETER_CLASSES))
def test_parameter_class_requires_grad_unless_built_without(qname):
    parameter = resolve(qname)
    assert parameter is nn.Parameter
    assert list(inspect.signature(parameter).parameters)[:2] == ["data", "requires_grad"]  # read at position 1
    assert_numpy_raises(parameter(torch.zeros(2)))
    assert_no_grad_tensor(parameter(torch.zeros(2), requires_grad=False))


# Capitalised names of the module namespaces that are no nn.Module classes. The analysis builds a module for these
# all the same, except the parameter classes (PARAMETER_CLASSES is asked first).
CAPITALISED_NON_MODULES = {
    "torch.nn": {"Buffer", "LinearCrossEntropyOptions", "Parameter", "UninitializedBuffer", "UninitializedParameter"},
    "torch.nn.modules": {"LinearCrossEntropyOptions"},
}


@pytest.mark.parametrize("namespace", sorted(K.MODULE_NAMESPACES))
def test_capitalised_names_of_module_namespaces_are_module_classes(namespace):
    classes = resolve(namespace)
    names = {name for name in dir(classes) if name[:1].isupper()}
    modules = {name for name in names
               if isinstance(getattr(classes, name), type) and issubclass(getattr(classes, name), nn.Module)}
    assert len(modules) > 100
    assert names - modules == CAPITALISED_NON_MODULES[namespace]


def test_module_tables_name_classes_of_torch_nn():
    assert K.TORCH_NN in K.MODULE_NAMESPACES
    for name in sorted(K.PARAMETER_FREE_MODULES | K.MODULE_CONTAINERS):
        assert issubclass(resolve(f"{K.TORCH_NN}.{name}"), nn.Module), name
    assert not resolve(f"{K.TORCH_NN}.functional.relu")(torch.ones(1)).requires_grad  # lowercase: no class


def test_nn_utils_holds_the_non_differentiable_utils_and_the_others_keep_grad():
    utils = resolve(K.NN_UTILS)
    assert inspect.ismodule(utils) and utils.__name__ == K.NN_UTILS
    assert all(callable(getattr(utils, name)) for name in K.NON_DIFFERENTIABLE_NN_UTILS)
    assert_numpy_raises(utils.parameters_to_vector(nn.Linear(3, 2).parameters()))


def test_distributions_are_classes_that_carry_the_grad_of_their_parameters():
    distributions = resolve(K.DISTRIBUTIONS)
    assert inspect.ismodule(distributions)
    kinds = (distributions.Distribution, distributions.Transform)
    classes = [getattr(distributions, name) for name in dir(distributions) if name[:1].isupper()]
    assert len(classes) > 30 and all(isinstance(c, type) and issubclass(c, kinds) for c in classes)
    normal = distributions.Normal(grad_leaf(3), grad_leaf(3).exp())
    for out in (normal.rsample(), normal.log_prob(torch.zeros(3)), normal.entropy()):
        assert_numpy_raises(out)


def _cube_sum(values):
    return (values ** 3).sum()


GRADIENT_CALLS = {
    "torch.autograd.grad": lambda grad, x, create_graph: grad(_cube_sum(x), x, create_graph=create_graph),
    "torch.autograd.functional.jacobian": lambda jacobian, x, create_graph: jacobian(
        _cube_sum, x, create_graph=create_graph),
    "torch.autograd.functional.hessian": lambda hessian, x, create_graph: hessian(
        _cube_sum, x, create_graph=create_graph),
}


def test_every_gradient_function_has_an_example():
    assert set(GRADIENT_CALLS) == K.GRADIENT_FUNCTIONS


def _tensors_in(result):
    return list(result) if isinstance(result, tuple) else [result]


@pytest.mark.parametrize("qname", sorted(K.GRADIENT_FUNCTIONS))
def test_gradients_require_grad_only_with_create_graph(qname):
    function = resolve(qname)
    assert "create_graph" in inspect.signature(function).parameters
    x = grad_leaf(3)
    for gradient in _tensors_in(GRADIENT_CALLS[qname](function, x, False)):
        assert_no_grad_tensor(gradient)
    for gradient in _tensors_in(GRADIENT_CALLS[qname](function, x, True)):
        assert_numpy_raises(gradient)


@pytest.mark.parametrize("qname, first_input", sorted(K.CHECKPOINTS.items()))
def test_checkpoint_gives_what_its_function_gives_on_the_later_arguments(qname, first_input):
    checkpoint = resolve(qname)
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
    x = torch.randn(2, 3)
    leading = {1: (model,), 2: (model, 2)}[first_input]  # checkpoint_sequential takes the segment count second
    out = checkpoint(*leading, x, use_reentrant=False)
    assert torch.allclose(out.detach(), model(x).detach())
    assert_numpy_raises(out)
    with torch.no_grad():
        assert_no_grad_tensor(checkpoint(*leading, x, use_reentrant=False))


@pytest.mark.parametrize("qname", sorted(K.TENSOR_DATASETS))
def test_tensor_dataset_items_are_rows_of_each_tensor_grad_kept(qname):
    dataset = resolve(qname)
    assert dataset is torch.utils.data.TensorDataset
    features, labels = grad_leaf(4, 3), torch.arange(4)
    item = dataset(features, labels)[1]
    assert isinstance(item, tuple) and len(item) == 2
    assert torch.equal(item[1], labels[1])
    assert_numpy_raises(item[0])


@pytest.mark.parametrize("qname", sorted(K.DATA_LOADERS))
def test_data_loader_yields_batches_of_its_dataset_grad_kept(qname):
    loader = resolve(qname)
    assert loader is torch.utils.data.DataLoader
    batches = list(loader(torch.utils.data.TensorDataset(grad_leaf(4, 3), torch.arange(4)), batch_size=2))
    assert len(batches) == 2
    features, labels = batches[0]
    assert_numpy_raises(features)
    assert_no_grad_tensor(labels)
    (single,) = list(loader([grad_leaf(3)], batch_size=1))
    assert_numpy_raises(single)


def test_device_class_and_a_cpu_device_leaves_the_gpu():
    device = resolve(K.DEVICE)
    assert device is torch.device
    assert K.DEVICE.rpartition(".")[0] in K.TORCH_FUNCTION_NAMESPACES  # evaluated as the torch function `device`
    cpu = device("cpu")
    assert isinstance(cpu, device) and cpu.type == "cpu"
    assert torch.zeros(1).to(cpu).is_cuda is False
    assert device("cuda").type == "cuda"  # a device built from a constant names where it is, GPU or not


def test_torch_load_gives_back_what_was_saved_a_model_with_parameters_too(tmp_path):
    load = resolve(K.LOAD)
    assert load is torch.load
    assert K.LOAD.rpartition(".")[0] in K.TORCH_FUNCTION_NAMESPACES  # evaluated as the torch function `load`
    assert list(inspect.signature(load).parameters)[:2] == ["f", "map_location"]  # read at position 1 too
    torch.save(nn.Linear(3, 1), tmp_path / "model.pt")
    model = load(tmp_path / "model.pt", weights_only=False)
    assert_numpy_raises(model(torch.randn(2, 3)))
    torch.save({"w": grad_leaf(2)}, tmp_path / "state.pt")
    assert_numpy_raises(load(tmp_path / "state.pt")["w"])


def test_capitalised_names_of_torch_optim_are_optimizers_holding_their_parameters():
    optim, optimizer = resolve(K.OPTIMIZERS), resolve(K.OPTIMIZER)
    classes = [getattr(optim, name) for name in dir(optim) if name[:1].isupper()]
    assert len(classes) >= 10 and all(isinstance(c, type) and issubclass(c, optimizer) for c in classes)
    model = nn.Linear(3, 1)
    sgd = optim.SGD(model.parameters(), lr=0.1)
    assert_numpy_raises(sgd.param_groups[0]["params"][0])


def test_schedulers_are_no_optimizers():
    schedulers, optimizer = resolve(K.SCHEDULERS), resolve(K.OPTIMIZER)
    assert K.SCHEDULERS.startswith(K.OPTIMIZERS + ".")
    own = [value for name, value in vars(schedulers).items()
           if name[:1].isupper() and isinstance(value, type) and value.__module__ == K.SCHEDULERS]
    assert len(own) >= 10 and not any(issubclass(c, optimizer) for c in own)


def test_capitalised_tensor_names_of_torch_cuda_are_gpu_tensor_types():
    cuda = resolve(K.CUDA)
    names = [name for name in dir(cuda) if name[:1].isupper() and name.endswith("Tensor")]
    assert "FloatTensor" in names and "LongTensor" in names
    assert all(getattr(cuda, name).is_cuda is True for name in names)
    assert torch.FloatTensor.is_cuda is False  # the CPU types of the same names are not


UNFOLLOWED_CALL_EXAMPLES = {
    "torch.optim.": lambda: torch.optim.lr_scheduler.StepLR(torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=1), 1),
    "torch.cuda.": lambda: (torch.cuda.is_available(), torch.cuda.device_count()),
    "torch.backends.": lambda: (torch.backends.cudnn.is_available(), torch.backends.mps.is_available()),
}


@pytest.mark.parametrize("prefix", K.UNFOLLOWED_CALL_PREFIXES)
def test_unfollowed_calls_give_no_tensor_or_fill_theirs_in_place(prefix):
    namespace = resolve(prefix[:-1])
    assert prefix.endswith(".") and inspect.ismodule(namespace) and namespace.__name__ == prefix[:-1]
    if prefix in UNFOLLOWED_CALL_EXAMPLES:
        result = UNFOLLOWED_CALL_EXAMPLES[prefix]()
        assert not any(isinstance(part, torch.Tensor) for part in (result if isinstance(result, tuple) else [result]))
        return
    assert prefix == "torch.nn.init.", prefix
    for name in ("normal_", "uniform_", "xavier_uniform_", "kaiming_normal_", "zeros_", "ones_", "orthogonal_"):
        weight = nn.Parameter(torch.randn(3, 3))
        assert getattr(namespace, name)(weight) is weight, name
        assert weight.requires_grad and weight.grad_fn is None, name


def test_numpy_calls_give_arrays():
    numpy = resolve(K.NUMPY)
    assert numpy is np
    for out in (numpy.zeros(2), numpy.linspace(0, 1, 3), numpy.random.default_rng(0).normal(size=2)):
        assert isinstance(out, np.ndarray)


def _pyplot():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def test_matplotlib_hands_back_figures_and_axes_of_these_classes():
    plt = _pyplot()
    axes, figure = resolve(K.AXES), resolve(K.FIGURE)
    fig, ax = plt.subplots()
    assert isinstance(fig, figure) and isinstance(ax, axes)
    assert all(callable(getattr(axes, name)) for name in C.AXES_METHODS)
    assert {K.AXES.split(".")[0], K.FIGURE.split(".")[0]} == K.AXES_LIBRARIES
    plt.close("all")


@pytest.mark.parametrize("qname", sorted(K.FIGURE_FACTORIES))
def test_figure_factory_returns_a_figure(qname):
    plt = _pyplot()
    assert isinstance(resolve(qname)(), resolve(K.FIGURE))
    plt.close("all")


AXES_ARRAY_ARGUMENTS = {"reshape": (-1,)}


@pytest.mark.parametrize("name", sorted(K.AXES_ARRAY_METHODS))
def test_axes_array_method_gives_axes(name):
    plt = _pyplot()
    _, grid = plt.subplots(2, 2)
    out = getattr(grid, name)(*AXES_ARRAY_ARGUMENTS.get(name, ()))
    assert out.size == 4 and all(isinstance(ax, resolve(K.AXES)) for ax in out.ravel())
    assert all(isinstance(ax, resolve(K.AXES)) for ax in grid.flat)  # `axes.flat` too
    plt.close("all")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_estimators_derive_from_the_base_estimator():
    base = resolve(K.ESTIMATOR)
    assert all(isinstance(estimator, base) for estimator in _estimators())


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("method", sorted(K.ESTIMATOR_METHODS_RETURNING_SELF))
def test_estimator_method_returns_the_estimator(method):
    x, labels = np.random.default_rng(0).normal(size=(12, 3)), np.arange(12) % 2
    tried = 0
    for estimator in _estimators():
        if not hasattr(estimator, method):
            continue
        rest = {"classes": np.array([0, 1])} if "classes" in inspect.signature(getattr(estimator, method)).parameters \
            else {}
        assert getattr(estimator, method)(x, labels, **rest) is estimator, type(estimator)
        tried += 1
    assert tried, f"no sample estimator has `{method}`"


# ---------------------------------------------------------------------------------------------------------------
# MODEL_WRAPPERS: names under torch.optim that build a module with parameters, not an optimizer
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("qname", sorted(K.MODEL_WRAPPERS))
def test_model_wrapper_is_a_module_whose_output_requires_grad(qname):
    wrapper = resolve(qname)
    assert qname.startswith(K.OPTIMIZERS + ".") and issubclass(wrapper, nn.Module)
    assert not issubclass(wrapper, torch.optim.Optimizer)
    averaged = wrapper(nn.Linear(3, 2))
    assert any(p.requires_grad for p in averaged.parameters())
    assert_numpy_raises(averaged(torch.randn(1, 3)))
    with torch.no_grad():
        assert averaged(torch.randn(1, 3)).requires_grad is False
