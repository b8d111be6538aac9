"""One place that lists every code: message, default, fix safety and documentation.

The README's rule table, `detachify rule CODE` and the flake8 plugin's default-ignore list all come from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str  # one line, for tables
    default_on: bool
    fix_availability: str  # "always", "sometimes", "never"
    what_it_does: str
    why_is_this_bad: str
    example: str
    use_instead: str
    fix_safety: str
    known_problems: str = ""
    why_off_by_default: str = ""

    def documentation(self) -> str:
        """ruff's fixed sections, as `detachify rule CODE` prints them (Markdown)."""
        parts = [f"# {self.name} ({self.code})", "",
                 f"Fix is {self.fix_availability} available." if self.fix_availability != "never" else "No fix.",
                 f"{'On' if self.default_on else 'Off'} by default.", "",
                 "## What it does", self.what_it_does, "",
                 "## Why is this bad?", self.why_is_this_bad, ""]
        if self.why_off_by_default:
            parts += ["## Why it is off by default", self.why_off_by_default, ""]
        if self.known_problems:
            parts += ["## Known problems", self.known_problems, ""]
        parts += ["## Example", "```python", self.example.strip("\n"), "```", "",
                  "Use instead:", "```python", self.use_instead.strip("\n"), "```", "",
                  "## Fix safety", self.fix_safety, ""]
        return "\n".join(parts)


TNP001 = Rule(
    code="TNP001",
    name="numpy-on-grad-tensor",
    summary="`.numpy()` on a tensor that requires grad while grad mode is on",
    default_on=True,
    fix_availability="always",
    what_it_does=(
        "Checks for `.numpy()` calls on tensors that require grad at a point where grad mode is on: model "
        "outputs, losses, parameters, tensors created with `requires_grad=True` and anything computed from them."
    ),
    why_is_this_bad=(
        "torch refuses the conversion: `RuntimeError: Can't call numpy() on Tensor that requires grad`. "
        "The program crashes, often only at the end of a long training run, when it plots or logs."
    ),
    example="""
import torch

model = torch.nn.Linear(4, 2)
out = model(torch.randn(8, 4))
print(out.numpy())
""",
    use_instead="""
import torch

model = torch.nn.Linear(4, 2)
out = model(torch.randn(8, 4))
print(out.detach().cpu().numpy())
""",
    fix_safety=(
        "The fix inserts `.detach().cpu()` before `.numpy()` (or `.detach()` before an existing `.cpu()`), or with "
        "`fix-style = \"force\"` writes `.numpy(force=True)`. On a CPU tensor the result shares memory exactly as "
        "`.numpy()` would have, so the fix only turns a crash into working code. It is marked unsafe when the "
        "NumPy value flows back into torch or the conversion sits inside `forward` or a loss function, where "
        "detaching silently cuts the gradient the author may have wanted."
    ),
    known_problems=(
        "Tensors whose provenance is unknown (function parameters with no call site in the module, values "
        "from other modules) are not reported. A helper called from a `no_grad` block elsewhere is judged by "
        "the call sites the module shows."
    ),
)

TNP002 = Rule(
    code="TNP002",
    name="numpy-on-gpu-tensor",
    summary="`.numpy()` or an implicit conversion of a tensor that may live on a GPU, without `.cpu()`",
    default_on=True,
    fix_availability="always",
    what_it_does=(
        "Checks for conversions to NumPy of tensors that may live on a GPU: moved with `.cuda()` or "
        "`.to(device)` where the device may be CUDA (`\"cuda\"`, `torch.device(\"cuda\" if ... else \"cpu\")`, a "
        "`device` variable), created with `device=`, or produced by a module moved to a GPU."
    ),
    why_is_this_bad=(
        "NumPy arrays live in host memory: torch raises `TypeError: can't convert cuda:0 device type tensor to "
        "numpy. Use Tensor.cpu() to copy the tensor to host memory first.` The code works on a laptop and "
        "crashes on the training machine."
    ),
    example="""
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = torch.nn.Linear(4, 2).to(device)
with torch.no_grad():
    logits = model(torch.randn(8, 4, device=device))
print(logits.numpy())
""",
    use_instead="""
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = torch.nn.Linear(4, 2).to(device)
with torch.no_grad():
    logits = model(torch.randn(8, 4, device=device))
print(logits.detach().cpu().numpy())
""",
    fix_safety=(
        "The fix inserts `.detach().cpu()` before `.numpy()` (`.cpu()` after an existing `.detach()`; never a "
        "second `.cpu()`), or wraps an implicitly converted argument the same way: detachify cannot prove that a "
        "tensor on a GPU does not also require grad, and `.cpu().numpy()` on one that does still raises. On a CPU "
        "tensor `.cpu()` returns the tensor itself and `.detach()` shares its memory, so the fix is safe on every "
        "machine."
    ),
    known_problems=(
        "A GPU can't be proven absent statically: any `.to(device)` whose device may be CUDA counts. This rule's "
        "labels are not executed in the test suite (it runs on CPU machines)."
    ),
)

TNP003 = Rule(
    code="TNP003",
    name="implicit-conversion-of-grad-tensor",
    summary="a tensor that requires grad (or a list of them) passed to NumPy, matplotlib, pandas, ...",
    default_on=True,
    fix_availability="sometimes",
    what_it_does=(
        "Checks for tensors that require grad — or lists, tuples and dicts of them, such as the per-step losses "
        "collected in a training loop — handed to a function that converts its arguments to NumPy arrays: "
        "`np.asarray`, `np.array`, `np.concatenate`, `np.savetxt`, matplotlib's `plt.plot`/`ax.scatter`/"
        "`imshow`/`hist`, `pd.DataFrame`, seaborn, scipy.stats and sklearn.metrics functions."
    ),
    why_is_this_bad=(
        "These functions call `Tensor.__array__`, which calls `.numpy()`: the same `RuntimeError: Can't call "
        "numpy() on Tensor that requires grad`, raised from deep inside the plotting library."
    ),
    example="""
import matplotlib.pyplot as plt
import torch
from torch import nn

model, criterion = nn.Linear(3, 1), nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
losses = []
for step in range(10):
    loss = criterion(model(torch.randn(8, 3)), torch.randn(8, 1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss)
plt.plot(losses)
""",
    use_instead="""
import matplotlib.pyplot as plt
import torch
from torch import nn

model, criterion = nn.Linear(3, 1), nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
losses = []
for step in range(10):
    loss = criterion(model(torch.randn(8, 3)), torch.randn(8, 1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
plt.plot(losses)
""",
    fix_safety=(
        "A tensor argument is wrapped: `plt.plot(x, y)` becomes `plt.plot(x, y.detach().cpu().numpy())`, with "
        "parentheses where precedence needs them. A list of tensors is fixed where the tensors are stored: "
        "`losses.append(loss.item())` for single numbers such as losses, `.detach()` otherwise; when the "
        "analysis does not know every place the list is filled, no fix is offered, and when the list is also "
        "reachable under another name (assigned, passed to a helper, stored in an object), that fix is unsafe: "
        "fills through the other name would keep the crash. When the elements are also read elsewhere, each "
        "element is converted at the call instead. Fixes are unsafe where the list or the converted value also "
        "flows back into torch."
    ),
)

TNP901 = Rule(
    code="TNP901",
    name="conversion-of-unknown-tensor",
    summary="strict: `.numpy()` or an implicit conversion of a tensor whose grad is unknown (off by default)",
    default_on=False,
    fix_availability="always",
    what_it_does=(
        "Checks for conversions of values the analysis cannot prove safe: function parameters, values from other "
        "modules, anything whose grad it cannot follow, in a module that imports torch."
    ),
    why_is_this_bad=(
        "A helper such as `def to_numpy(t): return t.numpy()` works until someone passes it a model output. Teams "
        "that want the house style \"always detach before converting\" turn this rule on."
    ),
    why_off_by_default=(
        "It reports code that may well be correct: the default rules report only what has evidence of grad, so "
        "that every finding is worth acting on."
    ),
    example="""
import torch


def to_numpy(t: torch.Tensor):
    return t.numpy()
""",
    use_instead="""
import torch


def to_numpy(t: torch.Tensor):
    return t.detach().cpu().numpy()
""",
    fix_safety=(
        "Same rewrite as TNP001. Marked unsafe when the value is not known to be a torch tensor (another "
        "library's tensor has no `.detach()`)."
    ),
)

RULES: Dict[str, Rule] = {rule.code: rule for rule in (TNP001, TNP002, TNP003, TNP901)}


def all_rules() -> Tuple[Rule, ...]:
    return tuple(RULES[code] for code in sorted(RULES))


def markdown_table() -> str:
    """The README's rule table (tests/test_readme.py fails when the README's copy drifts from this)."""
    lines = ["| Code | Name | What it reports | Default | Fix |", "| --- | --- | --- | --- | --- |"]
    for rule in all_rules():
        lines.append(f"| `{rule.code}` | {rule.name} | {rule.summary} | {'on' if rule.default_on else 'off'} "
                     f"| {rule.fix_availability} |")
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m detachify.rules.registry` prints the README's rule table
    print(markdown_table())
