"""Each rule carries its own example (Fixit style): the example is reported, the fix turns it into the
documented "use instead", and that reports nothing."""
from __future__ import annotations

import pytest

import detachify
from detachify.rules import RULES, all_rules
from detachify.settings import Settings

CODES = [rule.code for rule in all_rules()]


@pytest.mark.parametrize("code", CODES)
def test_example_is_reported(code):
    rule = RULES[code]
    findings = detachify.check_source(rule.example.lstrip(), settings=Settings(select=(code,)))
    assert [f.code for f in findings] == [code]


@pytest.mark.parametrize("code", CODES)
def test_fix_turns_example_into_use_instead(code):
    rule = RULES[code]
    fixed = detachify.fix_source(rule.example.lstrip(), settings=Settings(select=(code,)), unsafe=True)
    assert fixed == rule.use_instead.lstrip()


@pytest.mark.parametrize("code", CODES)
def test_use_instead_is_clean(code):
    rule = RULES[code]
    assert detachify.check_source(rule.use_instead.lstrip(), settings=Settings(select=(code,))) == []


@pytest.mark.parametrize("code", CODES)
def test_documentation_has_every_section(code):
    text = RULES[code].documentation()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "Use instead:", "## Fix safety"):
        assert heading in text


def test_opinionated_rules_are_off_by_default_and_say_why():
    for rule in all_rules():
        assert rule.default_on == (not rule.code.startswith("TNP9"))
        if not rule.default_on:
            assert rule.why_off_by_default


def test_gpu_fix_detaches_too_and_never_copies_twice():
    """A tensor on a GPU may also require grad: `.cpu().numpy()` would leave that crash behind."""
    from detachify import fix_source

    source = ("import torch\n"
              "x = torch.ones(2, device=torch.device(\"cuda\"))\n"
              "loss = (x * torch.ones(2, requires_grad=True)).sum()\n"
              "a = loss.numpy()\n"
              "b = x.detach().numpy()\n"
              "c = x.numpy()\n")
    fixed = fix_source(source)
    assert "a = loss.detach().cpu().numpy()\n" in fixed
    assert "b = x.detach().cpu().numpy()\n" in fixed
    assert "c = x.detach().cpu().numpy()\n" in fixed
    assert fix_source(fixed) == fixed


def test_gpu_fix_of_an_implicit_conversion_of_a_detached_tensor_only_copies():
    """`plt.plot(x.detach())` and `(None, x.detach())` on a GPU miss only the copy to the CPU."""
    from detachify import fix_source

    source = ("import torch\n"
              "import matplotlib.pyplot as plt\n"
              "x = torch.ones(2, device=torch.device(\"cuda\"))\n"
              "plt.plot(x.detach())\n"
              "plt.plot([None, x.detach()])\n")
    fixed = fix_source(source)
    assert "plt.plot(x.detach().cpu().numpy())\n" in fixed
    assert "plt.plot([None, x.detach().cpu()])\n" in fixed
    assert fix_source(fixed) == fixed


def test_gpu_fix_of_a_detaching_converter_moves_the_tensor_to_the_cpu_only():
    """d2l's `numpy(x)` is `x.detach().numpy()` and `show_images` tries it first: they need a tensor (an array has
    no `.detach()`), and one that requires grad is fine there (tests/test_d2l_facts.py), so the fix is `.cpu()`."""
    from detachify import check_source, fix_source

    source = ("import torch\n"
              "from d2l import torch as d2l\n"
              "x = torch.ones(2, 4, 4, device=d2l.try_gpu())\n"
              "w = torch.ones(2, 4, 4, requires_grad=True) * 2\n"
              "a = d2l.numpy(x)\n"
              "d2l.show_images(x, 1, 2)\n"
              "d2l.show_images(w, 1, 2)\n"
              "b = d2l.numpy(w)\n")
    assert [(f.line, f.code) for f in check_source(source)] == [(5, "TNP002"), (6, "TNP002")]
    fixed = fix_source(source, settings=Settings(fix_style="force"))
    assert "a = d2l.numpy(x.cpu())\n" in fixed and "d2l.show_images(x.cpu(), 1, 2)\n" in fixed
    assert fix_source(fixed) == fixed


def test_every_rule_of_the_registry_is_a_conversion_check():
    from detachify.rules.conversions import CONVERSION_CHECKS, LEAST_SEVERITY

    assert list(CONVERSION_CHECKS) == list(RULES) == list(LEAST_SEVERITY)
