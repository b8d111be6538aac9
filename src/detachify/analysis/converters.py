"""Library functions that turn their arguments into NumPy arrays (through `Tensor.__array__`, i.e. `.numpy()`).

Handing them a tensor that requires grad, or a list/tuple/dict of such tensors, raises the same
"Can't call numpy() on Tensor that requires grad" error. Data, not code: every entry is proven by
tests/test_converters.py, which calls the real library on a requires-grad tensor (and on the same tensor
detached, which must not raise).

Not here, because torch disproves them (see the non-converter cases in the test): NumPy functions that hand
the tensor to its own method instead of converting it (`np.sum`, `np.mean`, `np.max`, `np.std`, `np.var`,
`np.prod`, `np.any`, `np.all`, `np.squeeze`, `np.shape`, `np.split`, `np.flip`, ...), `np.array_equal`
(it swallows the error and returns False), `seaborn.regplot` (it indexes the tensor and fails another way).
"""
from __future__ import annotations

# module (fully qualified) -> function names under it (dotted for submodules: "linalg.eigvalsh")
CONVERTING_FUNCTIONS = {
    "numpy": frozenset({
        # building arrays
        "array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "copy", "atleast_1d",
        "atleast_2d", "atleast_3d", "zeros_like", "ones_like", "full_like",
        # joining
        "concatenate", "stack", "vstack", "hstack", "dstack", "column_stack", "append",
        # saving
        "savetxt", "save", "savez", "savez_compressed",
        # statistics
        "corrcoef", "cov", "histogram", "histogram2d", "percentile", "quantile", "nanpercentile", "nanquantile",
        "median", "nanmedian", "nanmean", "nanstd", "nanvar", "nansum", "nanmax", "nanmin", "average", "ptp",
        "bincount", "digitize", "count_nonzero", "trapezoid",
        # comparing
        "allclose", "isclose", "isnan", "isinf", "isfinite", "isin",
        # sorting, searching
        "unique", "sort", "argsort", "argmax", "argmin", "nanargmax", "nanargmin", "searchsorted", "where",
        # reshaping
        "reshape", "ravel", "transpose", "expand_dims", "tile", "repeat", "roll", "triu", "tril", "fliplr",
        "flipud", "rot90", "pad", "take",
        # element-wise and friends
        "abs", "absolute", "exp", "log", "log1p", "log2", "log10", "sqrt", "square", "sin", "cos", "tanh",
        "sign", "floor", "ceil", "round", "around", "clip", "nan_to_num", "maximum", "minimum", "add",
        "subtract", "multiply", "divide", "power", "cumsum", "cumprod", "diff", "gradient", "convolve",
        "correlate", "interp", "polyfit", "polyval",
        # products
        "outer", "inner", "dot", "matmul", "einsum", "kron", "cross", "trace",
        # submodules
        "linalg.norm", "linalg.eig", "linalg.eigh", "linalg.eigvals", "linalg.eigvalsh", "linalg.svd",
        "linalg.inv", "linalg.det", "linalg.slogdet", "linalg.solve", "linalg.lstsq", "linalg.pinv",
        "linalg.qr", "linalg.cholesky", "linalg.matrix_rank",
        "fft.fft", "fft.rfft", "fft.ifft", "fft.irfft", "fft.fft2", "fft.fftshift",
        "testing.assert_allclose", "testing.assert_array_equal", "testing.assert_array_almost_equal",
        "testing.assert_almost_equal", "testing.assert_equal", "testing.assert_array_less",
    }),
    "matplotlib.pyplot": frozenset({
        "plot", "scatter", "hist", "hist2d", "imshow", "bar", "barh", "fill_between", "fill_betweenx",
        "errorbar", "semilogx", "semilogy", "loglog", "step", "stem", "contour", "contourf", "pcolormesh",
        "pcolor", "hexbin", "boxplot", "violinplot", "pie", "matshow", "quiver", "stackplot", "stairs",
        "specgram", "tricontour", "tricontourf", "tripcolor", "triplot", "spy", "axhline", "axvline", "hlines",
        "vlines", "ecdf", "eventplot", "psd", "imsave",
    }),
    "pandas": frozenset({"DataFrame", "Series"}),
    "seaborn": frozenset({
        "lineplot", "scatterplot", "histplot", "kdeplot", "heatmap", "barplot", "boxplot", "violinplot",
        "boxenplot", "pointplot", "countplot", "ecdfplot", "rugplot", "displot", "relplot", "catplot",
        "jointplot", "stripplot", "swarmplot", "clustermap",
    }),
    "scipy.stats": frozenset({
        "pearsonr", "spearmanr", "kendalltau", "linregress", "ttest_ind", "ttest_rel", "ttest_1samp",
        "mannwhitneyu", "wilcoxon", "ks_2samp", "wasserstein_distance", "zscore", "entropy", "describe",
        "rankdata", "sem", "skew", "kurtosis",
    }),
    "scipy.special": frozenset({"softmax", "log_softmax", "expit", "logit", "logsumexp"}),
    "scipy.spatial.distance": frozenset({"cdist", "pdist", "cosine", "euclidean", "jensenshannon"}),
    "scipy.optimize": frozenset({"linear_sum_assignment"}),
    # d2l, the "Dive into Deep Learning" book's helpers (`from d2l import torch as d2l`): `d2l.plot(x, [y1, y2])`
    # plots through matplotlib. d2l.torch imports torchvision, which does not load beside the pinned CPU torch, so
    # its entries are proven by tests/test_d2l_facts.py on d2l's own source, not in tests/test_converters.py.
    "d2l.torch": frozenset({"plot"}),
    "sklearn.metrics": frozenset({
        "accuracy_score", "balanced_accuracy_score", "f1_score", "precision_score", "recall_score",
        "jaccard_score", "matthews_corrcoef", "cohen_kappa_score", "confusion_matrix", "classification_report",
        "roc_auc_score", "average_precision_score", "top_k_accuracy_score", "log_loss", "brier_score_loss",
        "precision_recall_curve", "roc_curve", "auc", "mean_squared_error", "root_mean_squared_error",
        "mean_absolute_error", "mean_absolute_percentage_error", "r2_score", "explained_variance_score",
        "silhouette_score", "adjusted_rand_score", "normalized_mutual_info_score", "pairwise_distances",
        "pairwise.cosine_similarity",
    }),
}

# Functions that hand a single tensor to its own method (no conversion) but convert a list or tuple of them:
# `np.mean(losses)` on a list of per-step losses raises the grad error, `np.mean(loss)` does not.
LIST_CONVERTING_FUNCTIONS = {
    "numpy": frozenset({"sum", "mean", "max", "min", "std", "var", "amax", "amin", "prod"}),
}

# Converters that keep a list of single numbers (0-d tensors) as objects: only tensors, and lists or dicts of
# tensors with dimensions, are converted (`pd.DataFrame({"loss": losses})` of per-step losses is not).
SHALLOW_CONVERTERS = frozenset({"pandas.DataFrame", "pandas.Series"})

# matplotlib.axes.Axes methods that convert their data arguments (`ax.plot(x, y)`, `axes[0].imshow(w)`).
AXES_METHODS = frozenset({
    "plot", "scatter", "hist", "hist2d", "imshow", "bar", "barh", "fill_between", "fill_betweenx", "errorbar",
    "semilogx", "semilogy", "loglog", "step", "stem", "contour", "contourf", "pcolormesh", "pcolor", "hexbin",
    "boxplot", "violinplot", "pie", "matshow", "quiver", "stackplot", "stairs", "specgram", "spy", "tricontour",
    "tricontourf", "tripcolor", "triplot", "axhline", "axvline", "hlines", "vlines", "ecdf", "eventplot", "psd",
})

# matplotlib patches: they keep the coordinates they are given and convert them when they are made, added to Axes
# or drawn, which may be many lines later; reported at the call that hands them the tensor.
LAZY_CONVERTERS = {
    "matplotlib.patches": frozenset({
        "Rectangle", "Circle", "Ellipse", "FancyBboxPatch", "Annulus", "Polygon", "Arrow", "FancyArrow",
    }),
}

# scikit-learn estimators: a class under one of these modules builds one, and these methods convert their data
# arguments (`TSNE(n_components=2).fit_transform(x)`, `scaler.fit(x)`).
ESTIMATOR_MODULES = ("sklearn.",)
ESTIMATOR_METHODS = frozenset({
    "fit", "fit_transform", "transform", "inverse_transform", "fit_predict", "predict", "predict_proba",
    "predict_log_proba", "decision_function", "score", "partial_fit",
})

# Library classes whose instances convert the data arguments of these methods, at the call: a call of the class
# builds one, tracked by the class's name (as ESTIMATOR is). d2l's Animator plots every point it was given so far
# through matplotlib on each `add(x, y)` (x and y numbers, tensors, or tuples of them with `None` for no point):
# `animator.add(epoch + 1, (train_loss, valid_loss))`. Proven by tests/test_d2l_facts.py.
CONVERTING_METHODS = {"d2l.torch.Animator": frozenset({"add"})}

# Functions that convert `x.detach()` of their data arguments, not `x`: a tensor that requires grad is safe there, one
# that is not on the CPU is not (TNP002 only). d2l's `numpy` is `x.detach().numpy()`; `show_images` tries it on each
# image and, where it raises, hands the image itself to `imshow`; `show_heatmaps` converts each matrix with it.
# Proven by tests/test_d2l_facts.py.
DETACHING_CONVERTERS = {"d2l.torch": frozenset({"numpy", "show_images", "show_heatmaps"})}

# Calls that hand back matplotlib Axes (or arrays of them), so their methods above are known to convert.
AXES_FACTORIES = frozenset({
    "matplotlib.pyplot.subplots", "matplotlib.pyplot.subplot", "matplotlib.pyplot.gca", "matplotlib.pyplot.axes",
    "matplotlib.pyplot.subplot2grid",
})
# Of those, the ones that hand back the pair (figure, axes); `Figure.subplots` gives the axes alone.
FIGURE_AND_AXES_FACTORIES = frozenset({"matplotlib.pyplot.subplots"})
# Methods of a matplotlib Figure that hand back Axes.
FIGURE_AXES_METHODS = frozenset({"add_subplot", "gca", "subplots", "add_axes"})

# Keyword arguments of converters that never carry data (skipped, so `label=name` is never a finding).
NON_DATA_KEYWORDS = frozenset({
    "label", "cmap", "color", "marker", "linestyle", "alpha", "fmt", "dtype", "axis", "bins", "levels", "title",
    "vmin", "vmax", "aspect", "interpolation", "origin", "index", "columns", "name", "copy", "atol", "rtol",
    "delimiter", "header", "average", "linewidth", "lw", "ls", "ax", "kind", "density", "fontsize",
})
