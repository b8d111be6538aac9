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
model = torch.nn.Linear(4, 2)
out = model(torch.randn(8, 4))
print(out.numpy())
""",
    use_instead="""
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

RULES: Dict[str, Rule] = {rule.code: rule for rule in (TNP001,)}


def all_rules() -> Tuple[Rule, ...]:
    return tuple(RULES[code] for code in sorted(RULES))
