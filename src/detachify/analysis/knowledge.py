"""What the analysis knows about torch and its ecosystem, as data.

Every entry is proven by tests/test_knowledge.py, which runs torch on it. Names are fully qualified; the
analysis resolves import aliases before it looks anything up here.
"""
from __future__ import annotations

# Context managers / decorators that set grad mode: "on", "off", "flag" (on iff the first argument, `mode`, is
# true) or "not-flag" (on iff it is false; the argument defaults to True: `inference_mode(False)` turns grad ON).
GRAD_MODE_SETTERS = {
    "torch.no_grad": "off",
    "torch.autograd.no_grad": "off",
    "torch.autograd.grad_mode.no_grad": "off",
    "torch.inference_mode": "not-flag",
    "torch.autograd.inference_mode": "not-flag",
    "torch.autograd.grad_mode.inference_mode": "not-flag",
    "torch.enable_grad": "on",
    "torch.autograd.enable_grad": "on",
    "torch.autograd.grad_mode.enable_grad": "on",
    "torch.set_grad_enabled": "flag",
    "torch.autograd.set_grad_enabled": "flag",
    "torch.autograd.grad_mode.set_grad_enabled": "flag",
}

# torch functions that create a fresh tensor; it requires grad only when called with requires_grad=True.
TENSOR_FACTORIES = frozenset({
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "rand", "randn", "randint",
    "randperm", "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like", "empty_like",
    "full_like", "rand_like", "randn_like", "randint_like", "asarray", "scalar_tensor",
})
# Of those, the ones that return their tensor argument itself when given one (so its grad carries over).
FACTORIES_PASSING_TENSORS = frozenset({"as_tensor", "asarray"})

# Ops whose outputs never require grad, whatever their inputs: as torch functions and as Tensor methods.
NON_DIFFERENTIABLE_OPS = frozenset({
    "argmax", "argmin", "argsort", "argwhere", "nonzero", "count_nonzero",
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isclose", "isin", "signbit",
    "logical_and", "logical_or", "logical_not", "logical_xor",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "all", "any", "bucketize", "searchsorted", "histc",
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "randint_like",
})
# Functions of torch.nn.utils whose results never require grad (they work on `.grad` under no_grad).
NON_DIFFERENTIABLE_NN_UTILS = frozenset({"clip_grad_norm_", "clip_grad_value_", "get_total_norm"})
# torch.distributions: methods of a distribution that draw without a graph (`rsample` keeps it).
DISTRIBUTION_SAMPLERS = frozenset({"sample", "sample_n"})
# Tensor methods (not torch functions) that cast to an integer or bool dtype, or build an unrelated tensor.
NON_DIFFERENTIABLE_METHODS = frozenset({
    "long", "int", "short", "char", "byte", "bool",
    "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor",
})
# Of those, the ones that make a tensor on the receiver's device (`x.new_zeros(n)`: zeros where `x` is).
SAME_DEVICE_FACTORY_METHODS = frozenset({"new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"})
# Tensor methods that return a new tensor sharing no autograd history: the sanitizers.
DETACHING_METHODS = frozenset({"detach", "detach_"})
DETACHING_ATTRIBUTES = frozenset({"data", "grad"})
# Tensor attributes that are not tensors.
NON_TENSOR_ATTRIBUTES = frozenset({
    "shape", "dtype", "device", "ndim", "requires_grad", "is_cuda", "is_leaf", "grad_fn", "layout", "is_sparse",
    "itemsize", "nbytes",
})
# Tensor methods that return plain Python values (never a tensor, never an error).
NON_TENSOR_METHODS = frozenset({
    "item", "tolist", "size", "dim", "numel", "nelement", "element_size", "stride", "data_ptr", "is_contiguous",
    "is_floating_point", "is_complex", "get_device", "equal", "ndimension", "storage_offset", "backward",
    "register_hook", "retain_grad", "__len__",
})
# Ops that return a (values, indices) named tuple; `indices` never requires grad.
# The value is whether the op returns the pair without a `dim` argument too.
VALUES_INDICES_OPS = {
    "max": False, "min": False, "median": False, "nanmedian": False,
    "mode": True, "kthvalue": True, "topk": True, "sort": True, "cummax": False, "cummin": False,
}
# Reductions that give a single number when called without a dimension (`loss.mean()`, `torch.sum(x)`).
FULL_REDUCTIONS = frozenset({"mean", "sum", "norm", "prod", "std", "var", "amax", "amin", "nansum"})
# torch.nn.functional losses that reduce to a single number unless `reduction="none"`.
FUNCTIONAL_LOSSES = frozenset({
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss", "margin_ranking_loss",
    "triplet_margin_loss", "poisson_nll_loss", "gaussian_nll_loss", "hinge_embedding_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multi_margin_loss", "ctc_loss",
})
# Integer and bool dtypes: `.to(dtype)` / `.type(dtype)` to one of these cuts the graph.
INTEGER_DTYPES = frozenset({
    "torch.long", "torch.int64", "torch.int", "torch.int32", "torch.short", "torch.int16", "torch.int8",
    "torch.uint8", "torch.bool",
})

# torch.nn modules without parameters: calling one yields grad only if an input requires grad.
PARAMETER_FREE_MODULES = frozenset({
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Softmax",
    "Softmin", "LogSoftmax", "Softplus", "Softsign", "Softshrink", "Hardshrink", "Hardtanh", "Hardsigmoid",
    "Hardswish", "Tanhshrink", "Threshold", "GLU", "LogSigmoid", "Softmax2d",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "Identity", "Flatten", "Unflatten",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "LPPool1d", "LPPool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle",
    "ChannelShuffle", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "CosineSimilarity", "PairwiseDistance",
    "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "SmoothL1Loss",
    "HuberLoss", "KLDivLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss", "CTCLoss",
    "PoissonNLLLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "SoftMarginLoss",
    "MultiLabelSoftMarginLoss", "MultiMarginLoss",
})
# torch.nn classes that hold other modules: they have parameters if any child has.
MODULE_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
# Attribute names under which torch.nn modules keep parameters (weights) and buffers (no grad).
PARAMETER_ATTRIBUTES = frozenset({
    "weight", "bias", "in_proj_weight", "in_proj_bias", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
    "bias_hh_l0", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "q_proj_weight", "k_proj_weight",
    "v_proj_weight",
})
BUFFER_ATTRIBUTES = frozenset({"running_mean", "running_var", "num_batches_tracked"})

# PyTorch Lightning runs these LightningModule hooks with grad off (validation/test/predict loops).
LIGHTNING_MODULES = frozenset({
    "pytorch_lightning.LightningModule", "lightning.LightningModule", "lightning.pytorch.LightningModule",
    "pytorch_lightning.core.LightningModule",
})
LIGHTNING_NO_GRAD_HOOKS = frozenset({
    "validation_step", "test_step", "predict_step",
    "on_validation_start", "on_validation_epoch_start", "on_validation_batch_start", "on_validation_batch_end",
    "on_validation_epoch_end", "on_validation_end",
    "on_test_start", "on_test_epoch_start", "on_test_batch_start", "on_test_batch_end", "on_test_epoch_end",
    "on_test_end",
    "on_predict_start", "on_predict_epoch_start", "on_predict_batch_start", "on_predict_batch_end",
    "on_predict_epoch_end", "on_predict_end",
})

# Calls that build a model with parameters, from common libraries (prefixes of qualified names).
MODEL_CONSTRUCTOR_PREFIXES = (
    "torchvision.models.",
    "timm.create_model",
    "torch.hub.load",
)
# transformers / diffusers classes are models when built this way.
MODEL_FACTORY_METHODS = frozenset({"from_pretrained", "from_config"})
MODEL_LIBRARIES = ("transformers", "diffusers")

# Base classes that make a class of the module an nn.Module.
MODULE_BASES = frozenset({
    "torch.nn.Module", "torch.nn.modules.module.Module", "pytorch_lightning.LightningModule",
    "lightning.LightningModule", "lightning.pytorch.LightningModule", "pytorch_lightning.core.LightningModule",
})

# Base classes of custom autograd functions. torch runs their `forward` with grad off, and their `backward` with
# grad on exactly when higher-order gradients are taken (`create_graph=True`), when the gradients it is given
# require grad; a `backward` decorated with `ONCE_DIFFERENTIABLE` runs with grad off always.
AUTOGRAD_FUNCTION_BASES = frozenset({"torch.autograd.Function", "torch.autograd.function.Function"})
ONCE_DIFFERENTIABLE = frozenset({"torch.autograd.function.once_differentiable"})

# Annotations that make a parameter a torch tensor (and `isinstance` types that say a value is one).
TENSOR_TYPES = frozenset({"torch.Tensor", "torch.FloatTensor", "torch.nn.Parameter", "torch.nn.parameter.Parameter"})
# `isinstance` types that say a value is a NumPy array, not a tensor.
ARRAY_TYPES = frozenset({"numpy.ndarray"})
# Calls that are true exactly for tensors.
TENSOR_PREDICATES = frozenset({"torch.is_tensor"})
# Attributes a tensor has and a NumPy array (or a list, a number) has not: `hasattr(x, "detach")` says tensor.
TENSOR_ONLY_ATTRIBUTES = frozenset({"detach", "requires_grad", "grad_fn", "cpu", "cuda", "numpy"})

# Progress bars that wrap an iterable (first argument, or `iterable=`) and yield its elements themselves.
PASS_THROUGH_ITERABLES = frozenset({"tqdm.tqdm", "tqdm.std.tqdm", "tqdm.auto.tqdm"})

# Calls that are false exactly when no tensor can live on a CUDA GPU.
CUDA_AVAILABILITY = frozenset({"torch.cuda.is_available"})

# Library functions that hand back torch devices, by what they name: "cpu" (never a GPU), "gpu" (a CUDA device, or
# one that is a GPU whenever the machine has one, as `torch.device("cuda" if torch.cuda.is_available() else "cpu")`
# is) and "gpus" (a list of CUDA devices, one per GPU present: `devices[0]` is a GPU). d2l's are proven by
# tests/test_d2l_facts.py, which runs their own source.
DEVICE_FUNCTIONS = {
    "d2l.torch.cpu": "cpu", "d2l.torch.gpu": "gpu", "d2l.torch.try_gpu": "gpu", "d2l.torch.try_all_gpus": "gpus",
}

# Tensor libraries whose tensors also have `.numpy()` but no autograd-on-numpy() error (false-positive guard).
OTHER_TENSOR_LIBRARIES = frozenset({
    "tensorflow", "keras", "paddle", "mindspore", "oneflow", "jax", "tinygrad", "mxnet", "cupy",
})

# ---------------------------------------------------------------------------------------------------------------
# Names the evaluation dispatches on. The engine modules spell no library name themselves (tests/test_registry.py
# holds them to it): what a call, a base class or a type test of one of these means is said here.
# ---------------------------------------------------------------------------------------------------------------

# The module Python's builtin names live in: `len` is `builtins.len`, and a call of one is evaluated by short name.
BUILTINS = "builtins"
# Builtins that tell what a value is, for narrowing: `isinstance(x, torch.Tensor)`, `hasattr(x, "detach")`,
# `type(x) is np.ndarray`.
INSTANCE_TESTS = frozenset({"builtins.isinstance"})
ATTRIBUTE_TESTS = frozenset({"builtins.hasattr"})
TYPE_QUERIES = frozenset({"builtins.type"})
# The builtin types a tensor is an instance of; no other builtin type admits one, so `isinstance(x, (list, int))`
# true says x is no tensor.
UNIVERSAL_TYPES = frozenset({"builtins.object"})
# Decorators, as spelled, that make a method a property: reading the attribute runs the method.
PROPERTY_DECORATORS = frozenset({"property", "functools.cached_property", "cached_property"})
# Calls that fix a function's first arguments: `partial(f, a)(b)` is `f(a, b)`.
PARTIAL_APPLICATIONS = frozenset({"functools.partial"})
# Copies require grad where the original does, and a copied model has parameters that require grad.
COPIES = frozenset({"copy.copy", "copy.deepcopy"})

# Calls that say whether grad mode is on: `if torch.is_grad_enabled():` runs its body with grad on.
GRAD_MODE_QUERIES = frozenset({"torch.is_grad_enabled"})
# Namespaces of torch functions on tensors, whose calls the tables above and torch_ops.json decide;
# TENSOR_FACTORIES are functions of `TORCH` only.
TORCH = "torch"
TORCH_FUNCTION_NAMESPACES = frozenset({
    "torch", "torch.nn.functional", "torch.special", "torch.linalg", "torch.fft", "torch.func",
})
# The class torch_ops.json keys tensor methods under (`torch.Tensor.argmax`).
TENSOR_CLASS = "torch.Tensor"
# `nn.Parameter(t)` requires grad unless it is built with `requires_grad=False`.
PARAMETER_CLASSES = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})
# torch.nn: its capitalised names are module classes (PARAMETER_FREE_MODULES and MODULE_CONTAINERS name them by
# short name, and a class deriving from one is an nn.Module); calls of capitalised names of MODULE_NAMESPACES build
# modules.
TORCH_NN = "torch.nn"
MODULE_NAMESPACES = frozenset({"torch.nn", "torch.nn.modules"})
# The module NON_DIFFERENTIABLE_NN_UTILS are functions of; its other functions keep their arguments' grad.
NN_UTILS = "torch.nn.utils"
# Its capitalised names are classes of distributions (and of their transforms): built from tensors, a distribution
# carries their grad into rsample, log_prob and entropy. A distribution is tracked by this module's name.
DISTRIBUTIONS = "torch.distributions"
# Functions that return gradients (a tuple of them, or one): they require grad only with `create_graph=True`.
GRADIENT_FUNCTIONS = frozenset({
    "torch.autograd.grad", "torch.autograd.functional.jacobian", "torch.autograd.functional.hessian",
})
# Activation checkpointing calls its first argument (a function, or a Sequential) on the positional arguments from
# this index on (`checkpoint_sequential(model, segments, x)`): the result is what that call gives.
CHECKPOINTS = {"torch.utils.checkpoint.checkpoint": 1, "torch.utils.checkpoint.checkpoint_sequential": 2}
# A dataset of tensors: each item is a tuple of a row of each tensor it was given, grad kept.
TENSOR_DATASETS = frozenset({"torch.utils.data.TensorDataset", "torch.utils.data.dataset.TensorDataset"})
# A loader yields batches of what its dataset (first argument) holds, grad kept.
DATA_LOADERS = frozenset({"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"})
# The class of devices. A device built from constants (`torch.device("cpu")`) is tracked by this name, so that
# `.to(device)` knows the tensor left the GPU.
DEVICE = "torch.device"
# What `torch.load` returns (anything pickled) is tracked by its name: called, it is a module with parameters,
# and its parts are where they were saved.
LOAD = "torch.load"
# torch.optim: its capitalised names are optimizers, except those of its scheduler module. An optimizer is tracked
# by the base class's name and holds the parameters it was given.
OPTIMIZERS = "torch.optim"
# Of its capitalised names, the modules: an AveragedModel keeps a copy of the model it is given (parameters that
# require grad, on the model's device) and calls it.
MODEL_WRAPPERS = frozenset({"torch.optim.swa_utils.AveragedModel"})
SCHEDULERS = "torch.optim.lr_scheduler"
OPTIMIZER = "torch.optim.Optimizer"
# torch.cuda: its capitalised names ending in "Tensor" are the legacy constructors of tensors on the GPU.
CUDA = "torch.cuda"
# Calls under these prefixes the analysis does not follow: they return settings, states and numbers (torch.optim,
# torch.cuda, torch.backends), or the tensor they fill in place under no_grad (torch.nn.init), whose grad the
# analysis already holds.
UNFOLLOWED_CALL_PREFIXES = ("torch.optim.", "torch.cuda.", "torch.backends.", "torch.nn.init.")

# NumPy: a call into it that converters.py does not name is taken to give an array (one that hands a tensor to
# its own method, `np.squeeze(t)`, gives that method's tensor: a known gap).
NUMPY = "numpy"
# matplotlib's Axes and Figure classes, by which the analysis tracks what FIGURE_FACTORIES and
# converters.AXES_FACTORIES hand back (an Axes method that converts its data is in converters.AXES_METHODS).
AXES = "matplotlib.axes.Axes"
FIGURE = "matplotlib.figure.Figure"
FIGURE_FACTORIES = frozenset({"matplotlib.pyplot.figure"})
# Methods of an array of Axes (`plt.subplots(2, 2)`) that give Axes again.
AXES_ARRAY_METHODS = frozenset({"flatten", "ravel", "reshape", "squeeze", "transpose"})
# Libraries whose Axes these are: in a module that imports one, an unknown receiver of a plotting method is Axes.
AXES_LIBRARIES = frozenset({"matplotlib"})
# scikit-learn's base class of estimators, by which the analysis tracks them (converters.ESTIMATOR_MODULES build
# them, converters.ESTIMATOR_METHODS convert their data), and the methods that return the estimator itself.
ESTIMATOR = "sklearn.base.BaseEstimator"
ESTIMATOR_METHODS_RETURNING_SELF = frozenset({"fit", "partial_fit"})
