"""Library functions that turn their arguments into NumPy arrays (through `Tensor.__array__`, i.e. `.numpy()`).

Handing them a tensor that requires grad, or a list/tuple/dict of such tensors, raises the same
"Can't call numpy() on Tensor that requires grad" error. Data, not code: every entry is proven by
tests/test_converters.py, which calls the real library on a requires-grad tensor.
"""
from __future__ import annotations

# module (fully qualified) -> function names under it (dotted for submodules: "linalg.eigvalsh")
CONVERTING_FUNCTIONS = {
    "numpy": frozenset({
        "array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "concatenate", "stack",
        "vstack", "hstack", "dstack", "column_stack", "savetxt", "save", "savez", "savez_compressed",
        "corrcoef", "cov", "histogram", "histogram2d", "percentile", "quantile", "nanpercentile", "nanquantile",
        "median", "nanmedian", "nanmean", "nanstd", "nanvar", "nansum", "nanmax", "nanmin", "average",
        "allclose", "isclose", "array_equal", "unique", "sort", "argsort", "diff", "gradient", "convolve",
        "correlate", "interp", "polyfit", "polyval", "outer", "inner", "dot", "matmul", "einsum", "kron",
        "where", "nan_to_num", "isnan", "isinf", "isfinite", "abs", "absolute", "exp", "log", "sqrt", "square",
        "sin", "cos", "tanh", "maximum", "minimum", "add", "subtract", "multiply", "divide", "power",
        "linalg.norm", "linalg.eig", "linalg.eigh", "linalg.eigvals", "linalg.eigvalsh", "linalg.svd",
        "linalg.inv", "linalg.det", "linalg.solve", "linalg.pinv", "linalg.qr", "linalg.cholesky",
        "fft.fft", "fft.rfft", "fft.ifft", "testing.assert_allclose", "testing.assert_array_equal",
        "testing.assert_array_almost_equal", "copy", "triu", "tril", "flip", "tile", "repeat", "roll",
        "expand_dims", "atleast_1d", "atleast_2d", "cumsum", "cumprod", "argmax", "argmin",
    }),
    "matplotlib.pyplot": frozenset({
        "plot", "scatter", "hist", "hist2d", "imshow", "bar", "barh", "fill_between", "fill_betweenx",
        "errorbar", "semilogx", "semilogy", "loglog", "step", "stem", "contour", "contourf", "pcolormesh",
        "pcolor", "hexbin", "boxplot", "violinplot", "pie", "matshow", "quiver", "stackplot", "stairs",
        "specgram", "tricontourf", "spy",
    }),
    "pandas": frozenset({"DataFrame", "Series"}),
    "seaborn": frozenset({
        "lineplot", "scatterplot", "histplot", "kdeplot", "heatmap", "barplot", "boxplot", "violinplot",
        "regplot", "ecdfplot", "displot", "relplot", "stripplot", "swarmplot", "clustermap",
    }),
    "scipy.stats": frozenset({"pearsonr", "spearmanr", "kendalltau", "ttest_ind", "ttest_rel", "zscore", "entropy"}),
    "scipy.special": frozenset({"softmax", "expit", "logsumexp"}),
    "sklearn.metrics": frozenset({
        "accuracy_score", "f1_score", "precision_score", "recall_score", "roc_auc_score", "mean_squared_error",
        "mean_absolute_error", "r2_score", "confusion_matrix", "average_precision_score", "log_loss",
        "precision_recall_curve", "roc_curve", "balanced_accuracy_score", "classification_report",
    }),
}

# matplotlib.axes.Axes methods that convert their data arguments (`ax.plot(x, y)`, `axes[0].imshow(w)`).
AXES_METHODS = frozenset({
    "plot", "scatter", "hist", "hist2d", "imshow", "bar", "barh", "fill_between", "fill_betweenx", "errorbar",
    "semilogx", "semilogy", "loglog", "step", "stem", "contour", "contourf", "pcolormesh", "pcolor", "hexbin",
    "boxplot", "violinplot", "pie", "matshow", "quiver", "stackplot", "stairs", "specgram", "spy",
})

# Calls that hand back matplotlib Axes (or arrays of them), so their methods above are known to convert.
AXES_FACTORIES = frozenset({
    "matplotlib.pyplot.subplots", "matplotlib.pyplot.subplot", "matplotlib.pyplot.gca", "matplotlib.pyplot.axes",
    "matplotlib.pyplot.subplot2grid",
})
# Methods of a matplotlib Figure that hand back Axes.
FIGURE_AXES_METHODS = frozenset({"add_subplot", "gca", "subplots", "add_axes"})

# Keyword arguments of converters that never carry data (skipped, so `label=name` is never a finding).
NON_DATA_KEYWORDS = frozenset({
    "label", "cmap", "color", "marker", "linestyle", "alpha", "fmt", "dtype", "axis", "bins", "levels", "title",
    "vmin", "vmax", "aspect", "interpolation", "origin", "index", "columns", "name", "copy", "atol", "rtol",
    "delimiter", "header", "average", "linewidth", "lw", "ls", "ax", "kind", "density", "fontsize",
})
