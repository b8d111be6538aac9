"""What `isinstance` tells the analysis about a tensor (analysis/statements.py `_type_kinds`, `_narrowed`), proven by
asking torch: a tensor (a Parameter too) is an instance of none of the builtin types code tests for, but it is an
`object`, which is therefore not read as "not a tensor"."""
import builtins

import pytest
import torch

# Every class `builtins` holds (the analysis reads any `builtins.X` but `object` as "not a tensor").
BUILTIN_TYPES = sorted(name for name, value in vars(builtins).items()
                       if isinstance(value, type) and value is not object)
TENSORS = {
    "grad tensor": lambda: torch.ones(2, requires_grad=True),
    "parameter": lambda: torch.nn.Parameter(torch.ones(2)),
    "0-d tensor": lambda: torch.tensor(1.0, requires_grad=True),
}


@pytest.mark.parametrize("kind", sorted(TENSORS))
@pytest.mark.parametrize("name", BUILTIN_TYPES)
def test_a_tensor_is_no_instance_of_a_builtin_type(kind, name):
    assert not isinstance(TENSORS[kind](), getattr(builtins, name))


@pytest.mark.parametrize("kind", sorted(TENSORS))
def test_a_tensor_is_an_object(kind):
    assert isinstance(TENSORS[kind](), object)
