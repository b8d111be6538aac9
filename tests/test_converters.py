"""Every entry of `detachify.analysis.converters`, proven by running the real library on a requires-grad tensor.

One case per table entry, generated from the tables: an entry without an example here fails, and an example
without an entry fails too. Each case makes its tensors with `Tensors` (outputs of an `nn.Linear`, so they
require grad and have a grad_fn), calls the function with grad mode on and expects torch's
"Can't call numpy() on Tensor that requires grad"; then it repeats the very same call with the same tensors
detached, which must run without any error: the grad is what makes the call fail, not the example.

Then the list/tuple/dict-of-tensors cases, the Axes factories, and the facts the analysis assumes of
non-converters (`float(t)`, `t.item()`, `print(t)`, NumPy reductions that defer to the tensor's own method, ...).
seaborn, scipy and scikit-learn are in the `test` extra; `pytest.importorskip` keeps the suite running where
they are absent.
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from detachify.analysis import converters as C  # noqa: E402
from qualified_names import resolve as resolve_name  # noqa: E402

GRAD_ERROR = r"Can't call numpy\(\) on Tensor that requires grad"
OPTIONAL = ("seaborn", "scipy", "sklearn")  # in the test extra; skipped where not installed


@pytest.fixture(autouse=True)
def _clean_state():
    """Grad mode on and a fixed seed for every case; every figure closed after it."""
    torch.set_grad_enabled(True)
    torch.manual_seed(0)
    np.random.seed(0)
    yield
    plt.close("all")
    torch.set_grad_enabled(True)


class Tensors:
    """Makes the tensors of one call: outputs of an `nn.Linear` (so they require grad), or the same detached.

    `T(3, 2)` is a random tensor of that shape, `T()` a 0-d one; `T.of(values)` holds exactly `values`.
    The two runs of a case draw from the same seed, so the detached run sees the same numbers.
    """

    def __init__(self, detach: bool, seed: int = 0):
        self.detach = detach
        self.generator = torch.Generator().manual_seed(seed)
        self.made: list[torch.Tensor] = []

    def of(self, values) -> torch.Tensor:
        values = torch.as_tensor(values, dtype=torch.float32)
        layer = nn.Linear(1, max(values.numel(), 1))
        with torch.no_grad():
            layer.weight.zero_()
            layer.bias.copy_(values.reshape(-1))
        out = layer(torch.zeros(1)).reshape(values.shape)
        assert out.requires_grad and out.grad_fn is not None
        if self.detach:
            out = out.detach()
        self.made.append(out)
        return out

    def __call__(self, *shape: int) -> torch.Tensor:
        return self.of(torch.randn(shape, generator=self.generator))


def resolve(qname: str):
    """The object a fully qualified name stands for; a library the test extra may lack is skipped, not failed."""
    if qname.split(".")[0] in OPTIONAL:
        pytest.importorskip(qname.split(".")[0])
    return resolve_name(qname)


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def assert_converts(call):
    """`call(T)` raises the requires-grad error when T makes grad tensors, and runs cleanly when they are detached."""
    assert torch.is_grad_enabled()
    grad = Tensors(detach=False)
    with quiet(), pytest.raises(RuntimeError, match=GRAD_ERROR):
        call(grad)
    assert grad.made and all(t.requires_grad for t in grad.made)
    plt.close("all")
    detached = Tensors(detach=True)
    with quiet():
        call(detached)  # must not raise at all: the example is a valid call, only the grad breaks it
    assert detached.made and not any(t.requires_grad for t in detached.made)


def outcome(thunk):
    """What a call does: ("ok", result type) or ("raises", exception type, message)."""
    try:
        with quiet():
            result = thunk()
    except Exception as error:  # noqa: BLE001 (the point: record it)
        return ("raises", type(error), str(error))
    return ("ok", type(result))


# ---------------------------------------------------------------------------------------------------------------
# Example calls, one per table entry: `example(f, T)` calls `f` with tensors from `T`
# ---------------------------------------------------------------------------------------------------------------

def spd(T):
    """A symmetric positive definite 3x3 tensor (eigh, cholesky, solve)."""
    return T.of([[2.0, 0.5, 0.0], [0.5, 2.0, 0.5], [0.0, 0.5, 2.0]])


def positive(T, n=4):
    return T.of(np.linspace(0.5, 2.0, n))


def probs(T):
    return T.of([0.1, 0.9, 0.8, 0.3, 0.6, 0.2, 0.7, 0.4])


LABELS = np.array([0, 1, 1, 0, 1, 0, 1, 1])


def labels(T):
    """Predicted labels, as a float tensor holding 0/1 (`torch.round(torch.sigmoid(out))` keeps requires_grad)."""
    return T.of([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])


NUMPY = {
    "array": lambda f, T: f(T(4)),
    "asarray": lambda f, T: f(T(4)),
    "asanyarray": lambda f, T: f(T(4)),
    "ascontiguousarray": lambda f, T: f(T(2, 3)),
    "asfortranarray": lambda f, T: f(T(2, 3)),
    "copy": lambda f, T: f(T(4)),
    "atleast_1d": lambda f, T: f(T()),
    "atleast_2d": lambda f, T: f(T(4)),
    "atleast_3d": lambda f, T: f(T(4)),
    "zeros_like": lambda f, T: f(T(4)),
    "ones_like": lambda f, T: f(T(4)),
    "full_like": lambda f, T: f(T(4), 1.0),
    "concatenate": lambda f, T: f([T(2), T(3)]),
    "stack": lambda f, T: f([T(3), T(3)]),
    "vstack": lambda f, T: f([T(3), T(3)]),
    "hstack": lambda f, T: f([T(2), T(3)]),
    "dstack": lambda f, T: f([T(3), T(3)]),
    "column_stack": lambda f, T: f([T(3), T(3)]),
    "append": lambda f, T: f(T(3), 1.0),
    "savetxt": lambda f, T: f(io.BytesIO(), T(3, 2)),
    "save": lambda f, T: f(io.BytesIO(), T(3)),
    "savez": lambda f, T: f(io.BytesIO(), weights=T(3)),
    "savez_compressed": lambda f, T: f(io.BytesIO(), T(3)),
    "corrcoef": lambda f, T: f(T(3, 6)),
    "cov": lambda f, T: f(T(3, 6)),
    "histogram": lambda f, T: f(T(16)),
    "histogram2d": lambda f, T: f(T(16), T(16)),
    "percentile": lambda f, T: f(T(8), 90),
    "quantile": lambda f, T: f(T(8), 0.9),
    "nanpercentile": lambda f, T: f(T(8), 90),
    "nanquantile": lambda f, T: f(T(8), 0.9),
    "median": lambda f, T: f(T(8)),
    "nanmedian": lambda f, T: f(T(8)),
    "nanmean": lambda f, T: f(T(8)),
    "nanstd": lambda f, T: f(T(8)),
    "nanvar": lambda f, T: f(T(8)),
    "nansum": lambda f, T: f(T(8)),
    "nanmax": lambda f, T: f(T(8)),
    "nanmin": lambda f, T: f(T(8)),
    "average": lambda f, T: f(T(8)),
    "ptp": lambda f, T: f(T(8)),
    "bincount": lambda f, T: f(np.array([0, 1, 1, 3]), weights=T(4)),
    "digitize": lambda f, T: f(T(8), np.array([-1.0, 0.0, 1.0])),
    "count_nonzero": lambda f, T: f(T(8)),
    "trapezoid": lambda f, T: f(T(8)),
    "allclose": lambda f, T: f(T(4), np.zeros(4)),
    "isclose": lambda f, T: f(T(4), np.zeros(4)),
    "isnan": lambda f, T: f(T(4)),
    "isinf": lambda f, T: f(T(4)),
    "isfinite": lambda f, T: f(T(4)),
    "isin": lambda f, T: f(T(4), [0.0, 1.0]),
    "unique": lambda f, T: f(T(8)),
    "sort": lambda f, T: f(T(8)),
    "argsort": lambda f, T: f(T(8)),
    "argmax": lambda f, T: f(T(8)),
    "argmin": lambda f, T: f(T(8)),
    "nanargmax": lambda f, T: f(T(8)),
    "nanargmin": lambda f, T: f(T(8)),
    "searchsorted": lambda f, T: f(np.array([-1.0, 0.0, 1.0]), T(4)),
    "where": lambda f, T: f(np.array([True, False, True]), T(3), 0.0),
    "reshape": lambda f, T: f(T(4), (2, 2)),
    "ravel": lambda f, T: f(T(2, 2)),
    "transpose": lambda f, T: f(T(2, 3)),
    "expand_dims": lambda f, T: f(T(3), 0),
    "tile": lambda f, T: f(T(2), 3),
    "repeat": lambda f, T: f(T(2), 3),
    "roll": lambda f, T: f(T(4), 1),
    "triu": lambda f, T: f(T(3, 3)),
    "tril": lambda f, T: f(T(3, 3)),
    "fliplr": lambda f, T: f(T(2, 3)),
    "flipud": lambda f, T: f(T(2, 3)),
    "rot90": lambda f, T: f(T(2, 3)),
    "pad": lambda f, T: f(T(3), 1),
    "take": lambda f, T: f(T(4), [0, 2]),
    "abs": lambda f, T: f(T(4)),
    "absolute": lambda f, T: f(T(4)),
    "exp": lambda f, T: f(T(4)),
    "log": lambda f, T: f(positive(T)),
    "log1p": lambda f, T: f(positive(T)),
    "log2": lambda f, T: f(positive(T)),
    "log10": lambda f, T: f(positive(T)),
    "sqrt": lambda f, T: f(positive(T)),
    "square": lambda f, T: f(T(4)),
    "sin": lambda f, T: f(T(4)),
    "cos": lambda f, T: f(T(4)),
    "tanh": lambda f, T: f(T(4)),
    "sign": lambda f, T: f(T(4)),
    "floor": lambda f, T: f(T(4)),
    "ceil": lambda f, T: f(T(4)),
    "round": lambda f, T: f(T(4), 2),
    "around": lambda f, T: f(T(4), 2),
    "clip": lambda f, T: f(T(4), -1.0, 1.0),
    "nan_to_num": lambda f, T: f(T(4)),
    "maximum": lambda f, T: f(T(4), 0.0),
    "minimum": lambda f, T: f(T(4), 0.0),
    "add": lambda f, T: f(T(4), 1.0),
    "subtract": lambda f, T: f(T(4), 1.0),
    "multiply": lambda f, T: f(T(4), 2.0),
    "divide": lambda f, T: f(T(4), 2.0),
    "power": lambda f, T: f(positive(T), 2.0),
    "cumsum": lambda f, T: f(T(4)),
    "cumprod": lambda f, T: f(T(4)),
    "diff": lambda f, T: f(T(4)),
    "gradient": lambda f, T: f(T(4)),
    "convolve": lambda f, T: f(T(8), np.ones(3) / 3),
    "correlate": lambda f, T: f(T(8), np.ones(3)),
    "interp": lambda f, T: f(np.linspace(0, 1, 5), np.linspace(0, 1, 8), T(8)),
    "polyfit": lambda f, T: f(np.arange(8.0), T(8), 1),
    "polyval": lambda f, T: f(T(3), np.arange(4.0)),
    "outer": lambda f, T: f(T(3), T(3)),
    "inner": lambda f, T: f(T(3), T(3)),
    "dot": lambda f, T: f(T(3), T(3)),
    "matmul": lambda f, T: f(T(2, 3), T(3)),
    "einsum": lambda f, T: f("ij,j->i", T(2, 3), T(3)),
    "kron": lambda f, T: f(T(2), T(2)),
    "cross": lambda f, T: f(T(3), np.ones(3)),
    "trace": lambda f, T: f(T(3, 3)),
    "linalg.norm": lambda f, T: f(T(4)),
    "linalg.eig": lambda f, T: f(T(3, 3)),
    "linalg.eigh": lambda f, T: f(spd(T)),
    "linalg.eigvals": lambda f, T: f(T(3, 3)),
    "linalg.eigvalsh": lambda f, T: f(spd(T)),
    "linalg.svd": lambda f, T: f(T(3, 2)),
    "linalg.inv": lambda f, T: f(spd(T)),
    "linalg.det": lambda f, T: f(T(3, 3)),
    "linalg.slogdet": lambda f, T: f(T(3, 3)),
    "linalg.solve": lambda f, T: f(spd(T), np.ones(3)),
    "linalg.lstsq": lambda f, T: f(T(4, 2), np.ones(4)),
    "linalg.pinv": lambda f, T: f(T(3, 2)),
    "linalg.qr": lambda f, T: f(T(3, 3)),
    "linalg.cholesky": lambda f, T: f(spd(T)),
    "linalg.matrix_rank": lambda f, T: f(T(3, 3)),
    "fft.fft": lambda f, T: f(T(8)),
    "fft.rfft": lambda f, T: f(T(8)),
    "fft.ifft": lambda f, T: f(T(8)),
    "fft.irfft": lambda f, T: f(T(8)),
    "fft.fft2": lambda f, T: f(T(4, 4)),
    "fft.fftshift": lambda f, T: f(T(8)),
    "testing.assert_allclose": lambda f, T: f(T.of([1.0, 2.0]), np.array([1.0, 2.0])),
    "testing.assert_array_equal": lambda f, T: f(T.of([1.0, 2.0]), np.array([1.0, 2.0])),
    "testing.assert_array_almost_equal": lambda f, T: f(T.of([1.0, 2.0]), np.array([1.0, 2.0])),
    "testing.assert_almost_equal": lambda f, T: f(T.of([1.0, 2.0]), np.array([1.0, 2.0])),
    "testing.assert_equal": lambda f, T: f(T.of([1.0, 2.0]), np.array([1.0, 2.0])),
    "testing.assert_array_less": lambda f, T: f(T.of([1.0, 2.0]), np.array([3.0, 4.0])),
}

# Shared by pyplot functions and Axes methods: `f` is `plt.plot` or `ax.plot`.
PLOTTING = {
    "plot": lambda f, T: f(T(8)),
    "scatter": lambda f, T: f(T(8), T(8)),
    "hist": lambda f, T: f(T(16)),
    "hist2d": lambda f, T: f(T(16), T(16)),
    "imshow": lambda f, T: f(T(4, 4)),
    "bar": lambda f, T: f(np.arange(4), T(4)),
    "barh": lambda f, T: f(np.arange(4), T(4)),
    "fill_between": lambda f, T: f(np.arange(4), T(4)),
    "fill_betweenx": lambda f, T: f(np.arange(4), T(4)),
    "errorbar": lambda f, T: f(np.arange(4), T(4)),
    "semilogx": lambda f, T: f(positive(T), np.arange(4)),
    "semilogy": lambda f, T: f(positive(T)),
    "loglog": lambda f, T: f(positive(T)),
    "step": lambda f, T: f(np.arange(4), T(4)),
    "stem": lambda f, T: f(T(4)),
    "contour": lambda f, T: f(T(4, 4)),
    "contourf": lambda f, T: f(T(4, 4)),
    "pcolormesh": lambda f, T: f(T(4, 4)),
    "pcolor": lambda f, T: f(T(4, 4)),
    "hexbin": lambda f, T: f(T(16), T(16)),
    "boxplot": lambda f, T: f(T(8)),
    "violinplot": lambda f, T: f(T(8)),
    "pie": lambda f, T: f(positive(T, 3)),
    "matshow": lambda f, T: f(T(4, 4)),
    "quiver": lambda f, T: f(T(3, 3), T(3, 3)),
    "stackplot": lambda f, T: f(np.arange(4), T(4)),
    "stairs": lambda f, T: f(T(4)),
    "specgram": lambda f, T: f(T(512)),
    "spy": lambda f, T: f(T(4, 4)),
    "tricontour": lambda f, T: f(T(12), T(12), T(12)),
    "tricontourf": lambda f, T: f(T(12), T(12), T(12)),
    "tripcolor": lambda f, T: f(T(12), T(12), T(12)),
    "triplot": lambda f, T: f(T(12), T(12)),
    "axhline": lambda f, T: f(T()),
    "axvline": lambda f, T: f(T()),
    "hlines": lambda f, T: f(T(3), 0.0, 1.0),
    "vlines": lambda f, T: f(T(3), 0.0, 1.0),
    "ecdf": lambda f, T: f(T(8)),
    "eventplot": lambda f, T: f(T(8)),
    "psd": lambda f, T: f(T(256)),
}

PYPLOT = {**PLOTTING, "imsave": lambda f, T: f(io.BytesIO(), T(4, 4), format="png")}

PANDAS = {
    "DataFrame": lambda f, T: f(T(4, 2)),
    "Series": lambda f, T: f(T(4)),
}

SEABORN = {
    "lineplot": lambda f, T: f(x=np.arange(8), y=T(8)),
    "scatterplot": lambda f, T: f(x=T(8), y=T(8)),
    "histplot": lambda f, T: f(T(16)),
    "kdeplot": lambda f, T: f(T(16)),
    "heatmap": lambda f, T: f(T(3, 3)),
    "barplot": lambda f, T: f(x=np.arange(4), y=T(4)),
    "boxplot": lambda f, T: f(T(8)),
    "violinplot": lambda f, T: f(T(8)),
    "boxenplot": lambda f, T: f(T(8)),
    "pointplot": lambda f, T: f(x=np.arange(4), y=T(4)),
    "countplot": lambda f, T: f(x=labels(T)),
    "ecdfplot": lambda f, T: f(T(8)),
    "rugplot": lambda f, T: f(T(8)),
    "displot": lambda f, T: f(T(8)),
    "relplot": lambda f, T: f(x=T(8), y=T(8)),
    "catplot": lambda f, T: f(x=T(8)),
    "jointplot": lambda f, T: f(x=T(8), y=T(8)),
    "stripplot": lambda f, T: f(T(8)),
    "swarmplot": lambda f, T: f(T(8)),
    "clustermap": lambda f, T: f(T(4, 4)),
}

SCIPY_STATS = {
    "pearsonr": lambda f, T: f(T(8), T(8)),
    "spearmanr": lambda f, T: f(T(8), T(8)),
    "kendalltau": lambda f, T: f(T(8), T(8)),
    "linregress": lambda f, T: f(np.arange(8.0), T(8)),
    "ttest_ind": lambda f, T: f(T(8), T(8)),
    "ttest_rel": lambda f, T: f(T(8), T(8)),
    "ttest_1samp": lambda f, T: f(T(8), 0.0),
    "mannwhitneyu": lambda f, T: f(T(8), T(8)),
    "wilcoxon": lambda f, T: f(T(8), T(8)),
    "ks_2samp": lambda f, T: f(T(8), T(8)),
    "wasserstein_distance": lambda f, T: f(T(8), T(8)),
    "zscore": lambda f, T: f(T(8)),
    "entropy": lambda f, T: f(probs(T)),
    "describe": lambda f, T: f(T(8)),
    "rankdata": lambda f, T: f(T(8)),
    "sem": lambda f, T: f(T(8)),
    "skew": lambda f, T: f(T(8)),
    "kurtosis": lambda f, T: f(T(8)),
}

SCIPY_SPECIAL = {
    "softmax": lambda f, T: f(T(4)),
    "log_softmax": lambda f, T: f(T(4)),
    "expit": lambda f, T: f(T(4)),
    "logit": lambda f, T: f(probs(T)),
    "logsumexp": lambda f, T: f(T(4)),
}

SCIPY_DISTANCE = {
    "cdist": lambda f, T: f(T(3, 2), T(4, 2)),
    "pdist": lambda f, T: f(T(3, 2)),
    "cosine": lambda f, T: f(T(4), T(4)),
    "euclidean": lambda f, T: f(T(4), T(4)),
    "jensenshannon": lambda f, T: f(probs(T), probs(T)),
}

SCIPY_OPTIMIZE = {
    # DETR-style matching on a cost matrix computed from model outputs
    "linear_sum_assignment": lambda f, T: f(T(3, 3)),
}

SKLEARN_METRICS = {
    "accuracy_score": lambda f, T: f(LABELS, labels(T)),
    "balanced_accuracy_score": lambda f, T: f(LABELS, labels(T)),
    "f1_score": lambda f, T: f(LABELS, labels(T)),
    "precision_score": lambda f, T: f(LABELS, labels(T)),
    "recall_score": lambda f, T: f(LABELS, labels(T)),
    "jaccard_score": lambda f, T: f(LABELS, labels(T)),
    "matthews_corrcoef": lambda f, T: f(LABELS, labels(T)),
    "cohen_kappa_score": lambda f, T: f(LABELS, labels(T)),
    "confusion_matrix": lambda f, T: f(LABELS, labels(T)),
    "classification_report": lambda f, T: f(LABELS, labels(T)),
    "roc_auc_score": lambda f, T: f(LABELS, probs(T)),
    "average_precision_score": lambda f, T: f(LABELS, probs(T)),
    "top_k_accuracy_score": lambda f, T: f(LABELS, probs(T), k=1),
    "log_loss": lambda f, T: f(LABELS, probs(T)),
    "brier_score_loss": lambda f, T: f(LABELS, probs(T)),
    "precision_recall_curve": lambda f, T: f(LABELS, probs(T)),
    "roc_curve": lambda f, T: f(LABELS, probs(T)),
    "auc": lambda f, T: f(np.arange(8.0), probs(T)),
    "mean_squared_error": lambda f, T: f(np.zeros(8), T(8)),
    "root_mean_squared_error": lambda f, T: f(np.zeros(8), T(8)),
    "mean_absolute_error": lambda f, T: f(np.zeros(8), T(8)),
    "mean_absolute_percentage_error": lambda f, T: f(np.ones(8), T(8)),
    "r2_score": lambda f, T: f(np.arange(8.0), T(8)),
    "explained_variance_score": lambda f, T: f(np.arange(8.0), T(8)),
    "silhouette_score": lambda f, T: f(T(8, 3), LABELS),
    "adjusted_rand_score": lambda f, T: f(LABELS, labels(T)),
    "normalized_mutual_info_score": lambda f, T: f(LABELS, labels(T)),
    "pairwise_distances": lambda f, T: f(T(4, 3)),
    "pairwise.cosine_similarity": lambda f, T: f(T(4, 3)),
}

FUNCTION_EXAMPLES = {
    f"{module}.{name}": example
    for module, examples in {
        "numpy": NUMPY,
        "matplotlib.pyplot": PYPLOT,
        "pandas": PANDAS,
        "seaborn": SEABORN,
        "scipy.stats": SCIPY_STATS,
        "scipy.special": SCIPY_SPECIAL,
        "scipy.spatial.distance": SCIPY_DISTANCE,
        "scipy.optimize": SCIPY_OPTIMIZE,
        "sklearn.metrics": SKLEARN_METRICS,
    }.items()
    for name, example in examples.items()
}
# Modules whose entries are proven on the library's own source elsewhere, because the module cannot be imported here.
PROVEN_ELSEWHERE = {"d2l.torch": "tests/test_d2l_facts.py (d2l.torch imports torchvision, which does not load here)"}
FUNCTION_CASES = sorted(f"{module}.{name}" for module, names in C.CONVERTING_FUNCTIONS.items() for name in names
                        if module not in PROVEN_ELSEWHERE)
AXES_CASES = sorted(C.AXES_METHODS)


def test_every_example_has_a_table_entry():
    """An example left behind when its entry was pruned is a stale claim: fail it."""
    assert sorted(set(FUNCTION_EXAMPLES) - set(FUNCTION_CASES)) == []
    assert sorted(set(PLOTTING) - set(C.AXES_METHODS)) == []


def test_modules_are_fully_qualified_and_names_are_not():
    for module, names in C.CONVERTING_FUNCTIONS.items():
        assert isinstance(names, frozenset) and names, module
        for name in names:
            assert not name.startswith(module) and not name.startswith("."), (module, name)


@pytest.mark.parametrize("qname", FUNCTION_CASES)
def test_function_converts(qname):
    if qname not in FUNCTION_EXAMPLES:
        pytest.fail(f"{qname} is in CONVERTING_FUNCTIONS but has no example call in FUNCTION_EXAMPLES")
    function = resolve(qname)
    example = FUNCTION_EXAMPLES[qname]
    assert_converts(lambda T: example(function, T))


@pytest.mark.parametrize("name", AXES_CASES)
def test_axes_method_converts(name):
    if name not in PLOTTING:
        pytest.fail(f"{name} is in AXES_METHODS but has no example call in PLOTTING")
    example = PLOTTING[name]

    def call(T):
        _, ax = plt.subplots()
        assert isinstance(ax, Axes)
        return example(getattr(ax, name), T)

    assert_converts(call)


# ---------------------------------------------------------------------------------------------------------------
# 0-d tensors (a loss, a metric) handed to the functions people call on scalars
# ---------------------------------------------------------------------------------------------------------------

SCALAR_EXAMPLES = {
    "numpy.array": lambda f, T: f(T()),
    "numpy.asarray": lambda f, T: f(T()),
    "numpy.isnan": lambda f, T: f(T()),
    "numpy.isinf": lambda f, T: f(T()),
    "numpy.isfinite": lambda f, T: f(T()),
    "numpy.exp": lambda f, T: f(T()),
    "numpy.log": lambda f, T: f(T.of(0.5)),
    "numpy.sqrt": lambda f, T: f(T.of(0.5)),
    "numpy.abs": lambda f, T: f(T()),
    "numpy.round": lambda f, T: f(T(), 4),
    "numpy.clip": lambda f, T: f(T(), 0.0, 1.0),
    "numpy.maximum": lambda f, T: f(T(), 0.0),
    "numpy.allclose": lambda f, T: f(T.of(0.5), 0.5),
    "numpy.isclose": lambda f, T: f(T.of(0.5), 0.5),
    "numpy.testing.assert_allclose": lambda f, T: f(T.of(0.5), 0.5),
    "numpy.testing.assert_almost_equal": lambda f, T: f(T.of(0.5), 0.5),
    "matplotlib.pyplot.axhline": lambda f, T: f(T()),
    "scipy.special.expit": lambda f, T: f(T()),
}


@pytest.mark.parametrize("qname", sorted(SCALAR_EXAMPLES))
def test_function_converts_0d_tensor(qname):
    assert qname in FUNCTION_CASES, f"{qname}: not a table entry"
    function = resolve(qname)
    example = SCALAR_EXAMPLES[qname]
    assert_converts(lambda T: example(function, T))


# ---------------------------------------------------------------------------------------------------------------
# Lists, tuples and dicts of requires-grad tensors
# ---------------------------------------------------------------------------------------------------------------

CONTAINER_EXAMPLES = {
    "numpy.array/list": ("numpy.array", lambda f, T: f([T(3), T(3)])),
    "numpy.array/list-0d": ("numpy.array", lambda f, T: f([T(), T(), T()])),
    "numpy.array/nested": ("numpy.array", lambda f, T: f([[T(), T()], [T(), T()]])),
    "numpy.asarray/list-0d": ("numpy.asarray", lambda f, T: f([T(), T()])),
    "numpy.asarray/tuple": ("numpy.asarray", lambda f, T: f((T(3), T(3)))),
    "numpy.stack/tuple": ("numpy.stack", lambda f, T: f((T(3), T(3)))),
    "numpy.stack/list-0d": ("numpy.stack", lambda f, T: f([T(), T()])),
    "numpy.concatenate/tuple": ("numpy.concatenate", lambda f, T: f((T(2), T(3)))),
    "numpy.median/list-0d": ("numpy.median", lambda f, T: f([T(), T(), T()])),
    "numpy.savetxt/list-0d": ("numpy.savetxt", lambda f, T: f(io.BytesIO(), [T(), T()])),
    "matplotlib.pyplot.plot/list-0d": ("matplotlib.pyplot.plot", lambda f, T: f([T(), T(), T()])),
    "matplotlib.pyplot.plot/x-list-y-list": ("matplotlib.pyplot.plot", lambda f, T: f([0, 1], [T(), T()])),
    "matplotlib.pyplot.scatter/lists-0d": ("matplotlib.pyplot.scatter", lambda f, T: f([T(), T()], [T(), T()])),
    "matplotlib.pyplot.hist/list-0d": ("matplotlib.pyplot.hist", lambda f, T: f([T(), T(), T()])),
    "pandas.DataFrame/dict": ("pandas.DataFrame", lambda f, T: f({"a": T(4), "b": T(4)})),
    "sklearn.metrics.roc_auc_score/list-0d": (
        "sklearn.metrics.roc_auc_score", lambda f, T: f([0, 1, 1, 0], [T(), T(), T(), T()])),
    "scipy.stats.pearsonr/lists-0d": ("scipy.stats.pearsonr", lambda f, T: f([T(), T(), T()], [T(), T(), T()])),
}


@pytest.mark.parametrize("case", sorted(CONTAINER_EXAMPLES))
def test_function_converts_container_of_grad_tensors(case):
    qname, example = CONTAINER_EXAMPLES[case]
    assert qname in FUNCTION_CASES, f"{qname}: not a table entry"
    function = resolve(qname)
    assert_converts(lambda T: example(function, T))


def test_axes_plot_converts_list_of_grad_tensors():
    def call(T):
        _, axes = plt.subplots(1, 2)
        axes[1].plot([T(), T(), T()])  # noqa: TNP003 (the point: it converts)

    assert_converts(call)


# ---------------------------------------------------------------------------------------------------------------
# Calls that hand back Axes
# ---------------------------------------------------------------------------------------------------------------

def all_axes(result):
    """The Axes of a factory's result: an Axes, an array of them, or (fig, Axes-or-array) from subplots."""
    if isinstance(result, tuple):
        fig, result = result
        assert isinstance(fig, matplotlib.figure.Figure)
    if isinstance(result, np.ndarray):
        assert result.size and all(isinstance(ax, Axes) for ax in result.flat)
        return list(result.flat)
    assert isinstance(result, Axes), type(result)
    return [result]


AXES_FACTORY_EXAMPLES = {
    "matplotlib.pyplot.subplots": [lambda f: f(), lambda f: f(2, 2), lambda f: f(1, 3)],
    "matplotlib.pyplot.subplot": [lambda f: f(), lambda f: f(2, 1, 2), lambda f: f(211)],
    "matplotlib.pyplot.gca": [lambda f: f()],
    "matplotlib.pyplot.axes": [lambda f: f(), lambda f: f((0.1, 0.1, 0.8, 0.8))],
    "matplotlib.pyplot.subplot2grid": [lambda f: f((2, 2), (0, 0))],
}
FIGURE_METHOD_EXAMPLES = {
    "add_subplot": [lambda m: m(), lambda m: m(2, 2, 1), lambda m: m(111)],
    "gca": [lambda m: m()],
    "subplots": [lambda m: m(), lambda m: m(2, 2)],
    "add_axes": [lambda m: m((0.1, 0.1, 0.8, 0.8))],
}


def assert_axes_convert(axes):
    for ax in axes:
        def call(T, ax=ax):
            ax.plot(T(4))  # noqa: TNP003 (the point: it converts)

        assert_converts(call)


@pytest.mark.parametrize("qname", sorted(C.AXES_FACTORIES))
def test_axes_factory_returns_axes(qname):
    if qname not in AXES_FACTORY_EXAMPLES:
        pytest.fail(f"{qname} is in AXES_FACTORIES but has no example in AXES_FACTORY_EXAMPLES")
    factory = resolve(qname)
    for example in AXES_FACTORY_EXAMPLES[qname]:
        assert_axes_convert(all_axes(example(factory)))
        plt.close("all")


@pytest.mark.parametrize("name", sorted(C.FIGURE_AXES_METHODS))
def test_figure_method_returns_axes(name):
    if name not in FIGURE_METHOD_EXAMPLES:
        pytest.fail(f"{name} is in FIGURE_AXES_METHODS but has no example in FIGURE_METHOD_EXAMPLES")
    for example in FIGURE_METHOD_EXAMPLES[name]:
        fig = plt.figure()
        assert_axes_convert(all_axes(example(getattr(fig, name))))
        plt.close("all")


def test_exactly_the_figure_and_axes_factories_return_a_figure_too():
    """`plt.subplots()` gives (figure, axes); the other factories and `Figure.subplots()` give axes alone."""
    assert C.FIGURE_AND_AXES_FACTORIES <= C.AXES_FACTORIES
    for qname in sorted(C.AXES_FACTORIES):
        for example in AXES_FACTORY_EXAMPLES[qname]:
            result = example(resolve(qname))
            assert isinstance(result, tuple) == (qname in C.FIGURE_AND_AXES_FACTORIES), qname
            plt.close("all")
    for example in FIGURE_METHOD_EXAMPLES["subplots"]:
        assert not isinstance(example(plt.figure().subplots), tuple)
        plt.close("all")


def test_factory_examples_have_table_entries():
    assert sorted(set(AXES_FACTORY_EXAMPLES) - set(C.AXES_FACTORIES)) == []
    assert sorted(set(FIGURE_METHOD_EXAMPLES) - set(C.FIGURE_AXES_METHODS)) == []


# ---------------------------------------------------------------------------------------------------------------
# Facts the analysis assumes of non-converters
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,convert", [
    ("float", lambda t: float(t)),
    ("item", lambda t: t.item()),
    ("tolist-0d", lambda t: t.tolist()),
    ("int", lambda t: int(t)),
    ("bool", lambda t: bool(t)),
    ("math.isfinite", lambda t: math.isfinite(t)),
    ("f-string", lambda t: f"{t}"),
    ("f-string-spec", lambda t: f"{t:.4f}"),
    ("format", lambda t: format(t, ".3e")),
    ("str", lambda t: str(t)),
    ("repr", lambda t: repr(t)),
])
def test_python_scalar_conversions_of_a_0d_grad_tensor_do_not_raise(name, convert, capsys):
    loss = Tensors(detach=False)()
    assert loss.requires_grad and loss.dim() == 0
    convert(loss)


@pytest.mark.parametrize("name,convert", [
    ("tolist", lambda t: t.tolist()),
    ("print", lambda t: print(t)),
    ("f-string", lambda t: f"{t}"),
    ("str", lambda t: str(t)),
    ("repr", lambda t: repr(t)),
    ("print-list", lambda t: print([t, t])),
])
def test_python_conversions_of_a_1d_grad_tensor_do_not_raise(name, convert, capsys):
    t = Tensors(detach=False)(4)
    assert t.requires_grad
    convert(t)


# NumPy functions that hand the tensor to its own method (or index it) instead of converting it: with a
# requires-grad tensor they do exactly what they do with the tensor detached, and never raise the grad error.
# (In torch 2.13 + NumPy 2.x, np.sum/np.mean/np.max/np.std/... raise TypeError either way: NumPy calls
# `t.sum(axis=None, out=None)` and the tensor method rejects that signature.)
NON_CONVERTING = {
    "numpy.sum": [lambda f, T: f(T(4)), lambda f, T: f(T())],
    "numpy.mean": [lambda f, T: f(T(4)), lambda f, T: f(T())],
    "numpy.max": [lambda f, T: f(T(4)), lambda f, T: f(T())],
    "numpy.min": [lambda f, T: f(T(4)), lambda f, T: f(T())],
    "numpy.amax": [lambda f, T: f(T(4))],
    "numpy.std": [lambda f, T: f(T(4)), lambda f, T: f(T())],
    "numpy.var": [lambda f, T: f(T(4))],
    "numpy.prod": [lambda f, T: f(T(4))],
    "numpy.any": [lambda f, T: f(T(4))],
    "numpy.all": [lambda f, T: f(T(4))],
    "numpy.squeeze": [lambda f, T: f(T(1, 4))],
    "numpy.shape": [lambda f, T: f(T(4))],
    "numpy.ndim": [lambda f, T: f(T(4))],
    "numpy.size": [lambda f, T: f(T(4))],
    "numpy.split": [lambda f, T: f(T(4), 2)],
    "numpy.swapaxes": [lambda f, T: f(T(2, 3), 0, 1)],
    "numpy.real": [lambda f, T: f(T(4))],
    "numpy.flip": [lambda f, T: f(T(4)), lambda f, T: f(T(2, 2), 0), lambda f, T: f(T())],
    "numpy.float64": [lambda f, T: f(T())],
    "pandas.Series": [lambda f, T: f(T())],
    "pandas.DataFrame": [lambda f, T: f([T(), T()]), lambda f, T: f({"a": [T(), T()]}), lambda f, T: f([T(3), T(3)])],
    "matplotlib.pyplot.text": [lambda f, T: f(T(), T(), "label")],
    "matplotlib.pyplot.annotate": [lambda f, T: f("label", (T(), T()))],
    "seaborn.regplot": [lambda f, T: f(x=T(8), y=T(8))],
}


@pytest.mark.parametrize("qname", sorted(NON_CONVERTING))
def test_non_converting_calls_behave_as_with_a_detached_tensor(qname):
    function = resolve(qname)
    for example in NON_CONVERTING[qname]:
        grad = outcome(lambda: example(function, Tensors(detach=False)))
        plt.close("all")
        detached = outcome(lambda: example(function, Tensors(detach=True)))
        plt.close("all")
        assert not (grad[0] == "raises" and "requires grad" in grad[2]), grad
        assert grad[:2] == detached[:2], (grad, detached)


def test_array_equal_swallows_the_grad_error_and_answers_false():
    """np.array_equal catches the conversion error: no crash, a wrong answer (so it is no converter)."""
    assert np.array_equal(Tensors(detach=True).of([1.0, 2.0]), [1.0, 2.0]) is True
    assert np.array_equal(Tensors(detach=False).of([1.0, 2.0]), [1.0, 2.0]) is False


LIST_CASES = sorted(f"{module}.{name}" for module, names in C.LIST_CONVERTING_FUNCTIONS.items() for name in names)


@pytest.mark.parametrize("qname", LIST_CASES)
def test_list_converting_functions_convert_a_list_of_grad_tensors(qname):
    """LIST_CONVERTING_FUNCTIONS: a tensor argument defers to its method, but a list of losses is converted."""
    function = resolve(qname)
    assert_converts(lambda T: function([T(), T(), T()]))
    assert_converts(lambda T: function((T(2), T(2))))


# --- patches: they convert when made, added to Axes or drawn (converters.LAZY_CONVERTERS) -------------------------

PATCHES = {
    "Rectangle": lambda P, T: P((T(), T()), T(), T()),
    "Circle": lambda P, T: P((T(), T()), T()),
    "Ellipse": lambda P, T: P((T(), T()), T(), T()),
    "FancyBboxPatch": lambda P, T: P((T(), T()), T(), T()),
    "Annulus": lambda P, T: P((T(), T()), T.of(2.0), 0.5),
    "Polygon": lambda P, T: P(T(3, 2)),
    "Arrow": lambda P, T: P(T(), T(), T(), T()),
    "FancyArrow": lambda P, T: P(T(), T(), T(), T()),
}
LAZY_CASES = sorted(f"{module}.{name}" for module, names in C.LAZY_CONVERTERS.items() for name in names)


def test_every_patch_has_an_example_and_every_example_an_entry():
    assert sorted(f"matplotlib.patches.{name}" for name in PATCHES) == LAZY_CASES


@pytest.mark.parametrize("qname", LAZY_CASES)
def test_patch_converts_when_made_added_or_drawn(qname):
    import io
    make = resolve(qname)
    example = PATCHES[qname.rsplit(".", 1)[1]]

    def draw(T):
        fig, ax = plt.subplots()
        ax.add_patch(example(make, T))
        fig.savefig(io.BytesIO(), format="png")

    assert_converts(draw)


# --- storing into ndarray slots (analysis/statements.py: `_stored_as_array`) ---------------------------------------

def test_storing_a_tensor_into_ndarray_slots_converts_it():
    def store(T):
        rows = np.zeros((2, 3))
        rows[0] = T(3)  # noqa: TNP003 (the point: each of these raises)
        rows[:, 1:] = T(2, 2)  # noqa: TNP003
        rows[1, :2] = [T(), T()]  # noqa: TNP003

    assert_converts(store)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")
def test_storing_a_single_number_reads_it_with_float():
    single = Tensors(detach=False)()
    assert single.requires_grad and single.dim() == 0
    slots = np.zeros(2)
    slots[0] = single  # noqa: TNP003 (0-d, which the analysis cannot see here): float(), no error
    assert slots[0] == pytest.approx(float(single.detach()))
