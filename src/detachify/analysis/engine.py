"""Run the grad-flow analysis over one module and collect what it saw at every tensor→NumPy conversion."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, FrozenSet, List, Optional, Sequence

import libcst as cst

from .. import parsing
from . import knowledge as K
from . import provenance as P
from . import usage
from .expressions import place_key
from .positions import positions_of
from .scopes import definition_lines
from .provenance import why
from .aliases import aliased_containers
from .calls import Calls
from .local_calls import LocalCalls
from .torch_calls import TorchCalls
from .expressions import EXPRESSION_HANDLERS, Expressions
from .foreign import ProjectCalls
from .summaries import Summaries
from .summary import OutgoingCall, Ref
from .program import ClassInfo, FunctionInfo, param_list, reference_kinds
from .state import Frame, State
from .statements import STATEMENT_HANDLERS, Statements, flag_of
from .values import Grad, Kind, Mode, Value, grad_tensor

# Beyond these, calls are not followed any more (their results stay unknown): bounds the cost on huge files.
MAX_CALL_ANALYSES = 3000
MAX_STATEMENTS = 400_000
# A base class's method is analysed on its own for at most this many of its subclasses.
MAX_SUBCLASS_CONTEXTS = 4


@dataclass
class Conversion:
    """A conversion site and the worst the analysis saw there over every context that reaches it.

    `kind` is "method" for `receiver.numpy()` (node: the call) and "implicit" for a value handed to a library
    function that converts it (node: the argument expression, `callee`: the function as written).
    """

    node: cst.CSTNode
    receiver: cst.BaseExpression
    value: Value
    mode: Mode
    force: bool
    function: Optional[FunctionInfo]  # the function it sits in (None: module level)
    kind: str = "method"
    callee: str = ""
    call_site: Optional[cst.CSTNode] = None  # the call that analysed its function, when it ran for a caller
    flows_back: bool = False  # the NumPy result is handed back to torch
    stores_escape: bool = False  # a container's elements are also read or handed to torch elsewhere
    stores_aliased: bool = False  # the container may also be filled under another name (unseen stores)
    # Inside a function: what every context handed it here, and the calls whose contexts raised.
    kinds_seen: frozenset = frozenset()
    raising_calls: tuple = ()
    backpropagated: bool = False  # it flows back into torch, in a scope that backpropagates a graph only NumPy fed
    detached: bool = False  # the converter detaches it itself (`x.detach().numpy()`): it needs a tensor on the CPU

    @property
    def raises(self) -> bool:
        """torch raises here: the tensor requires grad and grad mode is on."""
        return self.value.grad is Grad.YES and self.mode is Mode.ON and not self.force

    @property
    def severity(self) -> int:
        """Which observation to keep when several contexts reach the site: raising beats maybe beats safe."""
        if self.raises:
            return 3
        if self.value.gpu and not self.force:
            return 2
        return 1 if self.value.grad is Grad.UNKNOWN and self.mode is not Mode.OFF else 0


class ModuleAnalysis(Statements, Expressions, Calls, TorchCalls, LocalCalls, ProjectCalls, Summaries):
    _statement_handlers = STATEMENT_HANDLERS
    _expression_handlers = {**EXPRESSION_HANDLERS, cst.Call: Calls.x_Call}

    def __init__(self, module: cst.Module, source: Optional[str] = None, project=None):
        """`project`: how imports of the project's own modules resolve (`ImportContext`; None: unknown)."""
        self.module = module
        self.source = source
        self.project = project
        self.foreign = {}  # Ref -> ForeignClass / ForeignFunction, built once per analysis
        self.materialised = {}  # (id of a value summary, depth) -> (the summary, its value)
        self.classes_building = 0  # foreign classes whose bases and attributes are being read
        self.outgoing_calls = []
        self.top_level_functions = set()  # nodes of the module's own defs and classes (what it exports)
        self.top_level_classes = set()
        self.module_frame: Optional[Frame] = None
        self.functions: Dict[cst.CSTNode, FunctionInfo] = {}
        self.classes: Dict[cst.ClassDef, ClassInfo] = {}
        self.conversions: Dict[cst.Call, Conversion] = {}
        self.flows_back = set()
        self.passed_other: Dict[cst.CSTNode, set] = {}  # converter arguments that were, in some context, no tensor
        self.elements_read = set()  # fix sites of containers whose elements the code reads
        self.call_memo = {}
        self.call_stack: List[FunctionInfo] = []
        self.calls_analysed = 0
        self.statements_run = 0
        self.imports = set()
        self.star_libraries: List[str] = []  # `from torch import *` and the like, in import order
        self.star_modules: List = []  # summaries of the project modules star-imported, in import order
        self.star_values: Dict[str, Value] = {}  # names they bound, as looked up so far
        # module-level names imported from project modules, read when first looked up (deferred_imports.py)
        self.deferred_imports: Dict[str, Ref] = {}
        self.deferred_values: Dict[str, Value] = {}
        self._deferrable: Optional[Dict[int, FrozenSet[str]]] = None
        self.backward_without_grad = set()  # scopes calling `.backward()` on a tensor that cannot require grad
        self.graph_kept_by_backward = False  # some `.backward(create_graph=True)`: `.grad` may require grad
        self._positions = None
        self._evidence: Dict[object, usage.Evidence] = {}
        self._any_evidence: Optional[bool] = None
        self._bare_backward: Optional[bool] = None  # `from torch.autograd import backward` in the module
        self._definitions = None
        self._lines = None
        self._default_instances: Dict[ClassInfo, Value] = {}
        # libcst builds `node.children` with a visitor each time it is asked, and a function body runs many times
        # (on its own, with tagged arguments, once per call site): by id, as the module keeps every node alive.
        self._children: Dict[int, tuple] = {}
        self._flags_tested: Dict[int, FrozenSet[str]] = {}

    def children_of(self, node) -> tuple:
        found = self._children.get(id(node))
        if found is None:
            found = self._children[id(node)] = tuple(node.children)
        return found

    def flags_tested_in(self, node) -> FrozenSet[str]:
        """The names an `if`/`while`/conditional expression inside `node` tests as `flag` or `not flag` (not
        in a nested function or class)."""
        found = self._flags_tested.get(id(node))
        if found is None:
            if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                found = frozenset()
            else:
                found = frozenset().union(*(self.flags_tested_in(child) for child in self.children_of(node)))
                if isinstance(node, (cst.If, cst.While, cst.IfExp)):
                    flag = flag_of(node.test)[0]
                    found = found | {flag} if flag is not None else found
            self._flags_tested[id(node)] = found
        return found

    # orchestration ---------------------------------------------------------------------------------------
    def run(self, incoming: Sequence[OutgoingCall] = ()) -> List[Conversion]:
        self.execute()
        self.analyse_functions(incoming)
        return self.finish()

    def execute(self):
        """Run the module's top level (what importing it runs)."""
        self.module_frame = Frame(State(mode=Mode.ON))
        self.exec_block(self.module, self.module_frame)

    def analyse_functions(self, incoming: Sequence[OutgoingCall] = ()):
        """Every function, in the contexts it runs in. `incoming`: calls other modules of the project make
        into this one; a function they call is judged by those calls, as one called here is."""
        called, referenced_otherwise = reference_kinds(self.module.code if self.source is None else self.source)
        called = called | {call.function.rsplit(".", 1)[-1] for call in incoming}
        infos = [info for info in self.functions.values() if not info.is_lambda]
        # Functions nobody calls run first, with grad on: their callers are elsewhere (a framework, a user).
        # Those called in the project are judged by their call sites; leftovers last.
        roots = [info for info in infos if info.name not in called or info.name in referenced_otherwise]
        for info in roots:
            if not info.analysed and info.closure is not None and not self.over_budget():
                self.analyse_standalone(info)
        for call in incoming:
            if self.over_budget():
                break
            self.run_incoming_call(call)
        # Running a function defines the functions and classes nested in it (a factory's `autograd.Function`):
        # they are analysed too, until a pass defines nothing new.
        tried = set()
        while infos and not self.over_budget():
            for info in infos:
                if not info.analysed and info.closure is not None and not self.over_budget():
                    self.analyse_standalone(info)
            tried.update(infos)
            infos = [info for info in self.functions.values() if info not in tried and not info.is_lambda]

    def finish(self) -> List[Conversion]:
        for node, kinds in self.passed_other.items():
            if node in self.conversions:
                self.conversions[node].kinds_seen |= frozenset(kinds)
        sites = {conversion.node for conversion in self.conversions.values()}
        for conversion in self.conversions.values():
            conversion.flows_back = conversion.node in self.flows_back
            if conversion.flows_back:
                scope = conversion.function.node if conversion.function is not None else self.module
                conversion.backpropagated = scope in self.backward_without_grad
            stores = conversion.value.stores
            conversion.stores_escape = any(site in self.flows_back or site in self.elements_read
                                           for site, _ in stores)
        # Only the fill-site fix cares (it is not offered when stores escape); one walk of the module for all.
        candidates = [c.node for c in self.conversions.values() if c.value.stores and not c.stores_escape]
        scopes = {c.node: c.function.node for c in self.conversions.values()
                  if c.value.stores and _local_variable_of(c.node, c.function)}
        aliased = aliased_containers(self.module, candidates, sites, scopes) if candidates else set()
        for conversion in self.conversions.values():
            conversion.stores_aliased = conversion.node in aliased
        return list(self.conversions.values())

    def analyse_standalone(self, info: FunctionInfo):
        params = param_list(info.node.params)
        bound_to_instance = info.owner is not None and params and not info.is_static
        owners = [info.owner] if bound_to_instance else [None]
        if bound_to_instance:
            # A base class's method runs on instances of its subclasses too, calling their overrides
            # (`self._forward(batch)` that the base leaves abstract): analyse it once per such subclass.
            owners += self.subclasses_inheriting(info)
        for owner in owners:
            if owner is not info.owner and self.over_budget():
                break
            positional = [self.default_instance(owner)] if owner is not None else []
            frame = Frame(State(mode=info.decorator_mode or self.framework_mode(info)), parent=info.closure,
                          function=info)
            frame.state.vars.update(self.bind_parameters(info, positional, {}, None))
            frame.state.vars.update(self.annotated_parameters(info))
            frame.state.vars.update(self.gradients_given_to_backward(info))
            self.call_stack.append(info)
            try:
                result = self.run_body(info, frame)
            finally:
                self.call_stack.pop()
            if owner is info.owner:
                info.standalone_result = result

    def subclasses_inheriting(self, method: FunctionInfo) -> List[ClassInfo]:
        """The module's subclasses of the method's class that inherit it and override some other method."""
        found = []
        for subclass in self.classes.values():
            if subclass is method.owner or subclass.find_method(method.name) is not method:
                continue
            if any(name != "__init__" and method.owner.find_method(name) is not None for name in subclass.methods) \
                    and method.owner in _all_base_classes(subclass):
                found.append(subclass)
        return found[:MAX_SUBCLASS_CONTEXTS]

    def framework_mode(self, info: FunctionInfo) -> Mode:
        """The grad mode a framework calls a hook in: Lightning validates and tests with grad off; torch runs an
        autograd.Function's `forward` with grad off, its `backward` with grad on when differentiated twice."""
        owner = info.owner
        if owner is not None and owner.is_autograd_function and info.name in ("forward", "backward"):
            return Mode.ON if info.name == "backward" and not info.once_differentiable else Mode.OFF
        if owner is not None and info.name in K.LIGHTNING_NO_GRAD_HOOKS and any(
                base.qname in K.LIGHTNING_MODULES for base in _all_bases(owner)):
            return Mode.OFF
        return Mode.ON

    def annotated_parameters(self, info: FunctionInfo) -> Dict[str, Value]:
        """`t: torch.Tensor` is a tensor (grad unknown); `model: nn.Module` a module with parameters."""
        if info.annotations is not None:
            return info.annotations
        found = info.annotations = {}
        for param in param_list(info.node.params):
            if param.annotation is None:
                continue
            annotation = self.eval(param.annotation.annotation, Frame(State(), parent=info.closure))
            if annotation.qname in K.TENSOR_TYPES:
                found[param.name.value] = Value(Kind.TENSOR, Grad.UNKNOWN)
            elif annotation.qname in K.MODULE_BASES:
                found[param.name.value] = Value(Kind.MODULE, Grad.NO, qname=annotation.qname, has_params=True)
        return found

    def gradients_given_to_backward(self, info: FunctionInfo) -> Dict[str, Value]:
        """The gradients an autograd.Function's `backward` gets (all parameters after `ctx`) require grad when
        higher-order gradients are taken, unless it is `@once_differentiable` (then grad is off in it)."""
        owner = info.owner
        if owner is None or not owner.is_autograd_function or info.name != "backward" or info.once_differentiable:
            return {}
        params = list(info.node.params.posonly_params) + list(info.node.params.params)
        source = why(P.DOUBLE_BACKWARD, owner.name)
        return {param.name.value: grad_tensor(source) for param in params[1:]}

    def default_instance(self, info: ClassInfo) -> Value:
        """`self` when a method is analysed on its own: attributes as `__init__` sets them with unknown arguments."""
        if info in self._default_instances:
            return self._default_instances[info]
        self._default_instances[info] = placeholder = Value(Kind.INSTANCE, Grad.NO, qname=info.name, target=info,
                                                            has_params=info.is_module)
        init = info.find_method("__init__")
        if init is None or init.closure is None:
            return placeholder
        frame = Frame(State(mode=Mode.ON), parent=init.closure, function=init)
        frame.state.vars.update(self.bind_parameters(init, [placeholder], {}, None))
        self.call_stack.append(init)
        try:
            self.run_body(init, frame)
        finally:
            self.call_stack.pop()
        instance = self.make_instance(info, self.self_attributes(init, frame))
        self._default_instances[info] = instance
        return instance

    # evidence from use ---------------------------------------------------------------------------------
    def evidence_for(self, key: str, frame: Frame) -> usage.Evidence:
        """What the scope that owns `key` does with it: for `self.x`, every method of the class; for a name,
        the function it is local to, or the module."""
        if self._any_evidence is None:
            self._any_evidence = usage.may_have_evidence(self.module.code if self.source is None else self.source)
        if not self._any_evidence:
            return usage.NONE
        root, _, attribute = key.partition(".")
        function = frame.function
        while function is not None and function.node is not None and not function.is_lambda:
            params = param_list(function.node.params)
            owner = function.owner
            if attribute and owner is not None and owner.node is not None and params \
                    and root == params[0].name.value and not function.is_static:
                return self._class_evidence(owner.node, root)
            if root in function.local_names:
                return self._evidence_of(function.node)
            function = function.closure.function if function.closure is not None else None
        return self._evidence_of(self.module)

    def _evidence_of(self, node) -> usage.Evidence:
        found = self._evidence.get(node)
        if found is None:
            if self._bare_backward is None:
                self._bare_backward = usage.imports_autograd_backward(
                    self.module.code if self.source is None else self.source)
            found = self._evidence[node] = usage.evidence_in(self.text_of(node), self._bare_backward)
        return found

    def text_of(self, node) -> str:
        """The source lines of a `def` or `class` (the whole module when they are not known)."""
        code = self.module.code if self.source is None else self.source
        lines = self.definition_lines().get(node)
        if lines is None:
            return code
        if self._lines is None:
            self._lines = code.splitlines(keepends=True)
        return "".join(self._lines[lines[0] - 1:lines[1]])

    def definition_lines(self):
        if self._definitions is None:
            self._definitions = definition_lines(self.module, self.module.code if self.source is None else self.source)
        return self._definitions

    def definition_line(self, node) -> int:
        return self.definition_lines().get(node, (0, 0))[0]

    def _class_evidence(self, node, root: str) -> usage.Evidence:
        """`self.model` in one method is `self.model` in every other (whatever each names its `self`)."""
        found = self._evidence_of(node)
        return usage.Evidence(*(frozenset(f"{root}.{k.split('.', 1)[1]}" for k in keys if "." in k)
                                for keys in (found.modules, found.backpropagated)))

    def used_as_module(self, node, frame: Frame) -> bool:
        key = place_key(getattr(node, "func", None))
        return bool(key) and key in self.evidence_for(key, frame).modules

    def backpropagated(self, key: str, value: Value, frame: Frame) -> Value:
        """`loss = criterion(out, y)` with `loss.backward()` in the same scope: `loss` requires grad."""
        if value.grad is not Grad.UNKNOWN or frame.state.mode is not Mode.ON or value.kind not in (
                Kind.UNKNOWN, Kind.TENSOR):
            return value
        if key not in self.evidence_for(key, frame).backpropagated:
            return value
        return Value(Kind.TENSOR, Grad.YES, why(P.BACKPROPAGATED, key), gpu=value.gpu)

    def over_budget(self) -> bool:
        return self.calls_analysed > MAX_CALL_ANALYSES or self.statements_run > MAX_STATEMENTS

    # recording -------------------------------------------------------------------------------------------
    def record_conversion(self, node, receiver_node, value: Value, frame: Frame, force: bool,
                          kind: str = "method", callee: str = "", detached: bool = False):
        new = Conversion(node, receiver_node, value, frame.state.mode, force, frame.function, kind, callee,
                         frame.call_node, kinds_seen=frozenset({value.kind}), detached=detached,
                         raising_calls=(frame.call_node,) if frame.call_node is not None and value.grad is Grad.YES
                         and frame.state.mode is Mode.ON else ())
        old = self.conversions.get(node)
        if old is not None:
            new.kinds_seen |= old.kinds_seen
            new.raising_calls = tuple(dict.fromkeys(old.raising_calls + new.raising_calls))
            old.kinds_seen, old.raising_calls = new.kinds_seen, new.raising_calls
        if old is None or new.severity > old.severity:
            self.conversions[node] = new
        elif new.severity == old.severity:
            # Several contexts raise here (a helper called with two lists): fix every place they were filled.
            kept = new if new.value.gpu and not old.value.gpu else old
            kept.value = replace(kept.value, stores=old.value.stores | new.value.stores)
            self.conversions[node] = kept

    # functions as values ---------------------------------------------------------------------------------
    def function_info(self, node, name: str) -> FunctionInfo:
        info = self.functions.get(node)
        if info is None:
            info = self.functions[node] = FunctionInfo(node, name)
        return info

    def function_value(self, info: FunctionInfo, frame: Frame) -> Value:
        if info.is_lambda:
            info.closure = frame
        return Value(Kind.FUNCTION, Grad.NO, qname=info.name, target=info)

    # source positions and text ---------------------------------------------------------------------------
    def positions(self) -> "Positions":
        """Positions of nodes, computed for the subtrees asked for (`prepare_positions` batches them)."""
        if self._positions is None:
            self._positions = Positions(self)
        return self._positions

    def prepare_positions(self, nodes) -> None:
        self.positions().prepare(nodes)

    def nodes_findings_may_need(self, least_severity: int = 1):
        """Every node a finding or its fix may need the position of, so one codegen pass finds them all;
        conversions below `least_severity` are reported by no enabled rule."""
        for conversion in self.conversions.values():
            if conversion.severity < max(1, least_severity):
                continue  # proven safe, or reported only by rules that are off
            yield conversion.node
            yield conversion.call_site
            for site, _ in conversion.value.stores:
                yield site
            why = conversion.value.why
            for place in why.via if why is not None else ():
                if not isinstance(place.line, int):
                    yield place.line

    def line_of(self, node) -> int:
        position = self.positions().get(node) if node is not None else None
        return position.start.line if position is not None else 0

    def code(self, node, limit: int = 40) -> str:
        text = " ".join(self.module.code_for_node(node).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


class Positions:
    """`node -> CodeRange` for the nodes of one module; a miss computes the node's subtree (one codegen pass)."""

    def __init__(self, analysis: "ModuleAnalysis"):
        self.analysis = analysis
        self.known: Dict[cst.CSTNode, object] = {}

    def prepare(self, nodes) -> None:
        missing = [node for node in nodes if node is not None and node not in self.known]
        if missing:
            analysis = self.analysis
            code = analysis.source if analysis.source is not None else analysis.module.code
            reparser = parsing.reparser()
            if reparser is not None and reparser.knows(analysis.module):  # positions kept per statement
                found, missing = reparser.positions_of(analysis.module, code, missing)
                self.known.update(found)
            if missing:
                self.known.update(positions_of(analysis.module, code, missing))

    def __getitem__(self, node):
        if node not in self.known:
            self.prepare([node])
        return self.known[node]

    def get(self, node, default=None):
        try:
            return self[node]
        except KeyError:
            return default


def _local_variable_of(node, function: Optional[FunctionInfo]) -> bool:
    """`node` is a plain name local to `function` (assigned or bound in it, not declared global/nonlocal)."""
    return function is not None and not function.is_lambda and isinstance(node, cst.Name) and \
        node.value in function.local_names


def _all_base_classes(info: ClassInfo):
    return {base.target for base in _all_bases(info) if isinstance(base.target, ClassInfo)}


def _all_bases(info: ClassInfo, seen=None):
    seen = seen if seen is not None else set()
    for base in info.bases:
        yield base
        if isinstance(base.target, ClassInfo) and base.target not in seen:
            seen.add(base.target)
            yield from _all_bases(base.target, seen)


def analyse(module: cst.Module, source: Optional[str] = None) -> ModuleAnalysis:
    analysis = ModuleAnalysis(module, source)
    analysis.run()
    return analysis


def imports_other_tensor_library_only(analysis: ModuleAnalysis) -> bool:
    return "torch" not in analysis.imports and bool(analysis.imports & K.OTHER_TENSOR_LIBRARIES)
