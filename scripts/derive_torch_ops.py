"""Classify the public callables of torch by calling them, and write src/detachify/registry/data/torch_ops.json.

Run by a developer under the pinned torch (2.13), never at lint time:

    python scripts/derive_torch_ops.py                 # derive everything, write the data and the coverage report
    python scripts/derive_torch_ops.py --only torch.argmax torch.Tensor.type --no-write    # print some entries

Every public callable of `torch`, `torch.nn.functional`, `torch.linalg`, `torch.fft` and `torch.special`, every
public method and attribute of `torch.Tensor`, is called on probe inputs: small float tensors that require grad
(of a few shapes), with plausible values for the other parameters, found from the op's signature (its ATen schema,
its Python signature, or the names torch.overrides gives it) and, failing that, from generic call shapes. What the
successful calls return decides the entry: see EFFECTS. Nothing here is typed by hand per op; the only hand-written
knowledge is how to fill a parameter of a given type or name.

tests/test_derived_knowledge.py re-derives a sample with these same functions and fails on drift.
"""
from __future__ import annotations

import argparse
import collections
import functools
import inspect
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional  # noqa: F401 (imported for its namespace)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from derive_common import (  # noqa: E402
    DATA_DIR, GRAD_ERROR, ROOT, WORKER_FLAG, deprecation_of, derive_isolated, markdown_table, serve_worker,
    stable_text, summary_line, update_coverage_section, write_json,
)
from torch_probes import (  # noqa: E402
    DTYPE_ARGUMENTS, FACTORY_CALLS, PROFILES, TENSOR, Param, Probe, Profile, Ran, Target, as_probe, candidate_probes,
    choices, generic_specs, guess_type, lit, module_of, profiles_for, run, specs_of, summarize, summary_key,
    tensor_slots,
)

OUTPUT = DATA_DIR / "torch_ops.json"


def _import_lazy_dependencies() -> None:
    """Import now what some ops import on their first call (torch.unravel_index pulls in sympy through
    torch.fx's symbolic shapes: seconds): a probe must not time out inside an import and leave it half done,
    and an entry must not depend on which op happened to run first."""
    import torch.fx.experimental.symbolic_shapes  # noqa: F401


_import_lazy_dependencies()

EFFECTS = {
    "keeps-grad": "the output requires grad when an input does",
    "no-grad": "in every probe with a requires-grad input the output did not require grad (see `dtype`)",
    "not-tensor": "the output is not a tensor (a Python value, None, an object)",
    "values-indices": "a (values, indices) named tuple; `fields` says which keeps grad",
    "named-tuple": "another named tuple of tensors; `fields` says which keep grad",
    "tuple": "a tuple or list of tensors; `items` says which keep grad (one effect: all items)",
    "factory": "creates a tensor from non-tensor arguments only; `requires_grad_argument` says if it honours it",
    "raises-grad-error": "raises \"Can't call numpy() on Tensor that requires grad\" on a requires-grad input",
    "depends-on-arguments": "probes with requires-grad inputs disagree; `variants` lists what each call returned",
    "unknown": "no probe decided; `reason` (and `errors`) say why",
}
ENTRY_FIELDS = {
    "kind": "function, class, method (of torch.Tensor) or attribute (of torch.Tensor)",
    "effect": "see `effects`",
    "probe": "the call that decided the effect: grad[2,3] is a 2x3 float tensor that requires grad, int[...] / "
             "bool[...] integer / bool tensors, float[...] a float tensor without grad, cgrad a complex one",
    "dtype": "the output dtype of the deciding probe",
    "fields / items": "per field of a named tuple / per item of a tuple: keeps-grad, no-grad or not-tensor",
    "variants": "every distinct outcome of the probes (tier 1: all tensor arguments require grad; 2: some do; "
                "3: none does), where there is more than one",
    "by_dtype": "outcome with each dtype argument (`x.to(torch.long)`, `x.type(torch.LongTensor)`), where one "
                "differs from the plain call",
    "by_flag": "outcome with a return_* flag set (`torch.unique(x, return_inverse=True)`), where it differs",
    "factory": "a call with non-tensor arguments only that made a tensor",
    "requires_grad_argument": "honoured / honoured with a float dtype / not accepted (requires_grad=True)",
    "in_place / returns_input": "the output is the first input (an in-place `_` op, or a no-op like x.float())",
    "random": "another seed gives another output", "deprecated": "the warning the deciding call gave",
    "note": "how an entry was decided where that is not the obvious way",
    "reason / errors": "why an entry is unknown, and its most frequent probe errors",
}

NAMESPACES = ("torch", "torch.nn.functional", "torch.linalg", "torch.fft", "torch.special")

# Callables that are not called, because a call changes the process rather than computing a value.
NOT_PROBED = {
    "torch": {
        "compile": "compiles a function (not an op)", "load": "reads a file", "save": "writes a file",
        "from_file": "maps a file", "use_deterministic_algorithms": "sets global state",
        "init_num_threads": "sets global state", "prepare_multiprocessing_environment": "sets up multiprocessing",
        "import_ir_module": "loads a TorchScript module", "import_ir_module_from_buffer": "loads a TorchScript module",
        "cond": "control flow over callables (not an op)", "while_loop": "control flow over callables (not an op)",
    },
    TENSOR: {"share_memory_": "moves storage to shared memory", "pin_memory": "needs an accelerator"},
}
NOT_PROBED_PREFIXES = {"torch": ("set_",)}

MAX_CALLS_PER_OP = 400


# ---------------------------------------------------------------------------------------------------------------
# What is probed
# ---------------------------------------------------------------------------------------------------------------

def _is_torch_callable(obj) -> bool:
    """A callable defined by torch (not `typing.Optional` re-exported by torch.nn.functional)."""
    if not callable(obj) or inspect.ismodule(obj):
        return False
    module = getattr(obj, "__module__", None) or "torch"
    return module.startswith("torch")


def _is_internal_class(cls) -> bool:
    """A class torch's C extension defines (torch.FileCheck, torch.AliasDb, torch.DispatchKey): calling one with
    made-up arguments has aborted the process (pybind11 throwing from C++)."""
    module = getattr(cls, "__module__", "") or ""
    pybind = type(cls).__name__ == "pybind11_type"
    return (pybind or module.startswith("torch._C")) and not issubclass(cls, torch.Tensor)


def public_targets() -> Dict[str, Target]:
    """Every public callable of the namespaces, and every public method and attribute of torch.Tensor."""
    targets = {}
    for namespace in NAMESPACES:
        module = module_of(namespace)
        for name in dir(module):
            obj = getattr(module, name, None)
            if name.startswith("_") or not _is_torch_callable(obj):
                continue
            kind = "class" if isinstance(obj, type) else "function"
            targets[f"{namespace}.{name}"] = Target(f"{namespace}.{name}", namespace, name, kind)
    for name in dir(torch.Tensor):
        if name.startswith("_"):
            continue
        kind = "method" if callable(getattr(torch.Tensor, name)) else "attribute"
        targets[f"{TENSOR}.{name}"] = Target(f"{TENSOR}.{name}", TENSOR, name, kind)
    return dict(sorted(targets.items()))


def not_probed_reason(target: Target) -> Optional[str]:
    if target.kind == "class" and _is_internal_class(target.obj):
        return "a torch._C class (TorchScript, dispatcher or profiler internals, not an op)"
    reason = NOT_PROBED.get(target.namespace, {}).get(target.name)
    if reason is None and target.name.startswith(NOT_PROBED_PREFIXES.get(target.namespace, ())):
        reason = "sets global state"
    return reason


# ---------------------------------------------------------------------------------------------------------------
# Exploration: which calls of an op work
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Trial:
    """Every call tried for one op, and how the successful ones came about."""
    successes: List[Tuple[Ran, Dict[str, Any], List[Param], Profile]]  # (call, its summary, spec, profile)
    errors: collections.Counter
    calls: int
    grad_error: Optional[Probe] = None  # the first call with a requires-grad input that raised the numpy() error


def explore(target: Target) -> Trial:
    """Try the op's specs, each on the profiles in turn until one gives a call with a requires-grad input (or,
    for a spec without tensors, any call); generic call shapes only when the specs found nothing."""
    trial = Trial([], collections.Counter(), 0)
    seen = set()
    specs = specs_of(target)
    for round_specs in (specs, generic_specs(target)):
        for spec in round_specs:
            profiles = list(profiles_for(spec))
            first = True
            while profiles:
                outcome = _try_spec(target, spec, profiles.pop(0), trial, seen)
                if outcome == "decided":
                    break
                if first and outcome == "type-errors":  # wrong types or arity, not shapes: a 0-d tensor may fit
                    profiles = [p for p in profiles if p.name == "0d"]
                first = False
                if trial.calls >= MAX_CALLS_PER_OP:
                    return trial
        if any(ran.probe.tier < 3 for ran, *_ in trial.successes):
            break
    if target.namespace == "torch" and target.kind == "function":
        _try_factory_calls(target, trial, seen)
    return trial


def _try_spec(target, spec, profile, trial, seen) -> str:
    """Run the candidate probes of one spec on one profile: "decided" when one had a requires-grad input (or the
    spec takes no tensors and a call succeeded), "type-errors" when every call raised TypeError, else "failed"."""
    decided, type_errors_only = False, True
    for probe in candidate_probes(spec, profile):
        text = probe.describe(target)
        if text in seen:
            continue
        seen.add(text)
        trial.calls += 1
        ran = run(target, probe)
        if not ran.ok:
            trial.errors[ran.error] += 1
            type_errors_only = type_errors_only and ran.error.startswith("TypeError")
            if GRAD_ERROR in ran.error and probe.tier < 3 and trial.grad_error is None:
                trial.grad_error = probe
            continue
        type_errors_only = False
        trial.successes.append((ran, summarize(ran), spec, profile))
        decided = decided or probe.tier < 3 or not probe.tensors()
    return "decided" if decided else ("type-errors" if type_errors_only else "failed")


def _try_factory_calls(target, trial, seen):
    """Plain-data calls (`torch.zeros(2, 3)`, `torch.tensor([1.0, 2.0])`): the probe that names a factory, in
    preference to whatever tensor-free call the specs made."""
    for args in FACTORY_CALLS:
        probe = Probe(tuple(lit(a) for a in args))
        text = probe.describe(target)
        if text in seen:
            continue
        seen.add(text)
        trial.calls += 1
        ran = run(target, probe)
        if ran.ok and isinstance(ran.value, torch.Tensor):
            trial.successes.insert(0, (ran, summarize(ran), [], PROFILES[0]))
            return


# ---------------------------------------------------------------------------------------------------------------
# Classification: the entry of one op
# ---------------------------------------------------------------------------------------------------------------

Success = Tuple[Ran, Dict[str, Any], List[Param], Profile]


@functools.lru_cache(maxsize=1)
def _all_targets() -> Dict[str, Target]:
    return public_targets()


def target_for(qualname: str) -> Target:
    """The public target of that name, or one made for a name that is not public (`torch.Tensor.__len__`)."""
    if qualname in _all_targets():
        return _all_targets()[qualname]
    namespace, name = qualname.rsplit(".", 1)
    if namespace not in NAMESPACES + (TENSOR,):
        raise KeyError(f"{qualname}: not in a probed namespace")
    obj = getattr(torch.Tensor if namespace == TENSOR else module_of(namespace), name)
    if namespace == TENSOR:
        kind = "method" if callable(obj) else "attribute"
    else:
        kind = "class" if isinstance(obj, type) else "function"
    return Target(qualname, namespace, name, kind)


def classify(qualname: str) -> Dict[str, Any]:
    """The entry of one op: what its successful probe calls returned (deterministic: fixed inputs and seeds)."""
    target = target_for(qualname)
    entry: Dict[str, Any] = {"kind": target.kind}
    reason = not_probed_reason(target)
    if reason:
        return {**entry, "effect": "unknown", "reason": f"not probed: {reason}"}
    with _restored_global_state():
        trial = explore(target)
        decider, factory = _decide(target, trial, entry)
        if decider is not None:
            _add_argument_dependence(target, decider, factory, entry)
    return entry


def _decide(target: Target, trial: Trial, entry: Dict[str, Any]):
    """Fill effect, probe and the summary fields; return the deciding success (None when unknown) and the first
    call that made a tensor out of non-tensor arguments (None when there is none)."""
    successes = trial.successes
    by_tier = {tier: [s for s in successes if s[0].probe.tier == tier] for tier in (1, 2, 3)}
    factories = [s for s in by_tier[3] if not s[0].probe.tensors() and s[1]["effect"] != "not-tensor"]
    groups = _groups(by_tier[1] + by_tier[2] or successes)
    if len(groups) > 1:
        entry["variants"] = [{"probe": ran.probe.describe(target), "tier": ran.probe.tier, **summary}
                             for ran, summary in groups.values()]
    chosen = by_tier[1] or by_tier[2]
    if chosen:
        decider = chosen[0]
        one_effect = len({summary_key(s[1]) for s in chosen}) == 1
        entry.update(decider[1] if one_effect else {"effect": "depends-on-arguments"})
    elif trial.grad_error is not None:
        entry.update({"effect": "raises-grad-error", "probe": trial.grad_error.describe(target)})
        return None, None
    elif factories:
        decider = factories[0]
        entry.update({**decider[1], "effect": "factory"})
    else:
        decider = _decide_without_grad_inputs(by_tier[3], entry)
        if decider is None:
            _unknown(trial, entry)
            return None, None
    if entry.pop("returns_input", False):
        entry["in_place" if target.name.endswith("_") else "returns_input"] = True
    entry["probe"] = decider[0].probe.describe(target)
    if factories and entry["effect"] != "factory":
        entry["factory"] = factories[0][0].probe.describe(target)
    deprecation = deprecation_of(list(decider[0].warnings))
    if deprecation:
        entry["deprecated"] = deprecation
    return decider, (factories[0] if factories else None)


def _groups(successes: List[Success]) -> Dict[str, Tuple[Ran, Dict[str, Any]]]:
    groups: Dict[str, Tuple[Ran, Dict[str, Any]]] = {}
    for ran, summary, *_ in sorted(successes, key=lambda s: s[0].probe.tier):
        groups.setdefault(summary_key(summary), (ran, {k: v for k, v in summary.items() if k != "returns_input"}))
    return groups


def _decide_without_grad_inputs(successes: List[Success], entry: Dict[str, Any]) -> Optional[Success]:
    """No call with a requires-grad input succeeded: an op on integer/bool tensors only, or a function whose
    result is no tensor."""
    on_tensors = [s for s in successes if s[0].probe.tensors() and s[1]["effect"] != "not-tensor"]
    if on_tensors:
        entry.update({"effect": "no-grad", **on_tensors[0][1],
                      "note": "every call with a requires-grad input failed; it ran on integer/bool tensors only, "
                              "which cannot require grad"})
        return on_tensors[0]
    if successes:
        entry.update(successes[0][1])
        return successes[0]
    return None


def _unknown(trial: Trial, entry: Dict[str, Any]) -> None:
    errors = [text for text, _ in sorted(trial.errors.items(), key=lambda kv: (-kv[1], kv[0]))]
    entry["effect"] = "unknown"
    entry["reason"] = _reason_for(errors) if trial.calls else "no probe call could be formed"
    entry["errors"] = errors[:3]


# What the errors of an op that no probe call could run say it needs, checked in this order.
UNKNOWN_REASONS = (
    (r"\b(cuda|accelerator|mps|xpu|hpu|mtia|cudnn|miopen)\b", "needs CUDA or another accelerator"),
    (r"(is now removed|was removed|no longer supported)", "removed from torch: calling it raises"),
    (r"sparse", "needs sparse tensors"),
    (r"quantiz|qscheme|q_scale|per_channel|int_repr", "needs quantized tensors"),
    (r"mkldnn", "needs MKLDNN tensors"),
    (r"could not run '.*' with arguments from the 'cpu' backend", "no kernel for dense CPU tensors"),
    (r"not differentiable with respect to argument|on variable that requires grad",
     "refuses a requires-grad tensor where the probes put one"),
)


def _reason_for(errors: List[str]) -> str:
    joined = " ".join(errors).lower()
    for pattern, reason in UNKNOWN_REASONS:
        if re.search(pattern, joined):
            return reason
    return "no probe call succeeded"


def _add_argument_dependence(target: Target, decider: Success, factory: Optional[Success],
                             entry: Dict[str, Any]) -> None:
    """Arguments whose values change the effect: a dtype (`x.to(torch.long)`), a `return_*` flag
    (`torch.unique(x, return_inverse=True)`), `requires_grad=True`; and whether the op draws random numbers."""
    ran, summary, spec, profile = decider
    base_key = summary_key(summary)
    by_dtype = _by_dtype(target, profile, base_key)
    if by_dtype:
        entry["by_dtype"] = by_dtype
    by_flag = {}
    for param in spec:
        boolean = param.type.startswith("bool") or (param.type == "any" and guess_type(param.name) == "bool")
        if not param.required and boolean and param.name.startswith("return_"):
            flipped = run(target, ran.probe.with_kwargs(**{param.name: True}))
            if flipped.ok and summary_key(summarize(flipped)) != base_key:
                by_flag[f"{param.name}=True"] = _compact(summarize(flipped))
    if by_flag:
        entry["by_flag"] = by_flag
    fresh = entry["effect"] in ("factory", "no-grad")
    if fresh or factory is not None:
        verdict = _requires_grad_argument(target, (factory or decider)[0].probe)
        if verdict != "not accepted" or factory is not None or entry["effect"] == "factory":
            entry["requires_grad_argument"] = verdict
    random_source = factory if entry["effect"] == "factory" else decider
    if _is_random(target, random_source[0].probe):
        entry["random"] = True


def _by_dtype(target: Target, profile: Profile, base_key: str) -> Dict[str, Any]:
    """What the op returns with each of DTYPE_ARGUMENTS as its `dtype` parameter (from every spec that has one),
    when that differs from what it returns without."""
    forms = []
    for spec in specs_of(target):
        if any(p.name == "dtype" for p in spec):
            slots = tensor_slots(spec)
            base = {p.name: choices(p, profile, slots.get(p.name, 0))[0] for p in spec if p.required}
            forms.append(lambda dtype, spec=spec, base=base: as_probe(spec, {**base, "dtype": lit(dtype)}))
    found = {}
    for dtype in DTYPE_ARGUMENTS:
        for form in forms:
            probe = form(dtype)
            if probe.tier == 3:
                continue  # an overload without a requires-grad input (a factory) says nothing of this
            ran = run(target, probe)
            if ran.ok:
                found[lit(dtype).text] = _compact(summarize(ran))
                break
    if all(summary_key(s if isinstance(s, dict) else {"effect": s.split()[0]}) == base_key for s in found.values()):
        return {}
    return found


def _compact(summary: Dict[str, Any]) -> Any:
    """A summary as one short value: "no-grad int64", or the dict where there are fields or items."""
    if set(summary) <= {"effect", "dtype", "returns_input"}:
        return " ".join(str(summary[k]) for k in ("effect", "dtype") if k in summary)
    return {k: v for k, v in summary.items() if k != "returns_input"}


def _requires_grad_argument(target: Target, probe: Probe) -> str:
    for extra, verdict in (({}, "honoured"), ({"dtype": torch.float32}, "honoured with a float dtype")):
        ran = run(target, probe.with_kwargs(requires_grad=True, **extra))
        if ran.ok and isinstance(ran.value, torch.Tensor) and ran.value.requires_grad and ran.value.is_leaf:
            return verdict
    return "not accepted"


def _is_random(target: Target, probe: Probe) -> bool:
    """The deciding call draws from torch's generator (its state moves). Comparing outputs across seeds would
    take uninitialised memory (torch.empty) for randomness, some runs and not others."""
    return run(target, probe).drew_random_numbers


class _restored_global_state:
    """Undo what a probe may change in torch's process-wide state (grad mode, default dtype, threads, ...).
    Inside, torch warns every time: a warning torch gives once per process (C++ TORCH_WARN_ONCE, the TypedStorage
    deprecation) would otherwise be recorded on whichever op happened to run first (torch.Tensor.lu, not
    torch.lu)."""

    def __enter__(self):
        self.state = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.get_num_threads(),
                      torch.is_anomaly_enabled(), torch.are_deterministic_algorithms_enabled(),
                      torch.is_warn_always_enabled(), torch.storage._get_always_warn_typed_storage_removal())
        torch.set_warn_always(True)
        torch.storage._set_always_warn_typed_storage_removal(True)
        return self

    def __exit__(self, *exc):
        grad, dtype, threads, anomaly, deterministic, warn_always, warn_storage = self.state
        torch.set_warn_always(warn_always)
        torch.storage._set_always_warn_typed_storage_removal(warn_storage)
        torch.set_grad_enabled(grad)
        if torch.get_default_dtype() != dtype:
            torch.set_default_dtype(dtype)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if torch.is_anomaly_enabled() != anomaly:
            torch.set_anomaly_enabled(anomaly)
        if torch.are_deterministic_algorithms_enabled() != deterministic:  # (setting it imports torch._inductor)
            torch.use_deterministic_algorithms(deterministic)
        return False


# The data file and the coverage report
# ---------------------------------------------------------------------------------------------------------------

def derive(qualnames: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Any]]:
    """Every entry, each probed in a worker process (see derive_common.derive_isolated)."""
    names = list(qualnames) if qualnames else list(_all_targets())
    entries = derive_isolated(Path(__file__).resolve(), names)
    for name, entry in entries.items():
        if "kind" not in entry:  # the worker died on it
            entry["kind"] = target_for(name).kind
    return entries


def document(entries: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "generated_by": "scripts/derive_torch_ops.py",
        "torch_version": torch.__version__,
        "effects": EFFECTS,
        "entry_fields": ENTRY_FIELDS,
        "probe_inputs": "float tensors hold 0.1..0.9 (3x3 matrices are symmetric positive definite), int tensors "
                        "0/1; profiles (the shapes of a call's tensors, in order): "
                        + ", ".join(profile.name for profile in PROFILES),
        "ops": entries,
    }


def coverage(entries: Dict[str, Dict[str, Any]]) -> str:
    namespaces = list(NAMESPACES) + [TENSOR]
    rows = []
    effects = list(EFFECTS)
    for namespace in namespaces:
        mine = {q: e for q, e in entries.items() if q.rsplit(".", 1)[0] == namespace}
        counts = collections.Counter(e["effect"] for e in mine.values())
        rows.append([f"`{namespace}`", len(mine), len(mine) - counts["unknown"]] + [counts[e] for e in effects])
    total = collections.Counter(e["effect"] for e in entries.values())
    rows.append(["**all**", len(entries), len(entries) - total["unknown"]] + [total[e] for e in effects])
    flags = collections.Counter()
    for e in entries.values():
        for flag, test in (("integer/bool output dtype", e.get("dtype") in _INTEGER_DTYPES),
                           ("in place (returns its input)", e.get("in_place")),
                           ("a dtype argument changes the effect", "by_dtype" in e),
                           ("a return_* flag changes the effect", "by_flag" in e),
                           ("also creates tensors from non-tensor data", "factory" in e),
                           ("honours requires_grad=", str(e.get("requires_grad_argument", "")).startswith("honoured")),
                           ("random", e.get("random")), ("deprecated", "deprecated" in e),
                           ("integer/bool inputs only", "note" in e)):
            flags[flag] += bool(test)
    reasons = collections.Counter(e["reason"] for e in entries.values() if e["effect"] == "unknown")
    kinds = collections.Counter(e["kind"] for e in entries.values() if e["effect"] == "unknown")
    errors = collections.Counter()
    for e in entries.values():
        if e.get("reason") == "no probe call succeeded" and e.get("errors"):
            errors[_error_family(e["errors"][0])] += 1
    lines = [
        f"## torch {torch.__version__} (`scripts/derive_torch_ops.py`)", "",
        summary_line(entries), "",
        "Public callables per namespace (methods and attributes for `torch.Tensor`), and how many each effect "
        "classifies (`classified` = not `unknown`):", "",
        markdown_table(["namespace", "public", "classified"] + effects, rows), "",
        "Further facts recorded on entries:", "",
        markdown_table(["fact", "entries"], [[k, v] for k, v in flags.items()]), "",
        "Unknown, by reason:", "",
        markdown_table(["reason", "entries"], [[k, v] for k, v in reasons.most_common()]), "",
        "Unknown, by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()), "",
        "Where no probe call succeeded, the most frequent first error of each entry, grouped:", "",
        markdown_table(["first error", "entries"], [[f"`{k}`", v] for k, v in errors.most_common(15)]),
    ]
    return "\n".join(lines)


_INTEGER_DTYPES = {"int64", "int32", "int16", "int8", "uint8", "bool"}


def _error_family(text: str) -> str:
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\(.*?\)|\d+", "_", text)
    return stable_text(text, 90)


def main(argv: Optional[Sequence[str]] = None) -> int:
    if argv is None and sys.argv[1:] == [WORKER_FLAG]:
        return serve_worker(classify)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="QUALNAME", help="derive only these entries and print them")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the data or the report")
    parser.add_argument("--report", action="store_true",
                        help="derive nothing: rewrite the coverage report from the committed data")
    options = parser.parse_args(argv)
    if options.only:
        print(json.dumps(derive(options.only), indent=1, sort_keys=True))
        return 0
    entries = json.loads(OUTPUT.read_text(encoding="utf-8"))["ops"] if options.report else derive()
    report = coverage(entries)
    print(report)
    if options.no_write:
        return 0
    if not options.report:
        write_json(OUTPUT, document(entries))
        print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
    update_coverage_section("torch", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
