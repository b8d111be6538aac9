"""`LIGHTNING_MODULES` and `LIGHTNING_NO_GRAD_HOOKS` of `detachify.analysis.knowledge`, proven by running Lightning.

For every hook of `LIGHTNING_NO_GRAD_HOOKS`, a one-`nn.Linear` LightningModule is run by a CPU `Trainer` (one batch)
and records, inside the hook, whether grad mode is on and what `.numpy()` does on the module's output: grad is off
and `.numpy()` succeeds. The contrast is `training_step` under `trainer.fit`: grad on, and `.numpy()` raises the
requires-grad error. The same goes for a parameter, which requires grad in every hook: torch refuses `.numpy()`
only while grad mode is on, so in these hooks a parameter converts too. The validation hooks are also run by `fit`
(its validation loop), and every run is repeated with `Trainer(inference_mode=False)` (Lightning then uses
`torch.no_grad` instead of `torch.inference_mode`), with both `lightning` and `pytorch_lightning` where installed.

For every name of `LIGHTNING_MODULES`: it resolves to a subclass of `torch.nn.Module` (and is in `MODULE_BASES`).

The whole module skips where lightning is missing or fails to import (with any error).
"""
from __future__ import annotations

import importlib
import warnings

import pytest

try:
    pytest.importorskip("lightning")
except pytest.skip.Exception:
    raise
except Exception as _exc:  # noqa: BLE001 (installed but broken, e.g. built against another torch)
    pytest.skip(f"could not import 'lightning': {type(_exc).__name__}: {_exc}", allow_module_level=True)

import torch
from torch import nn
from torch.utils.data import DataLoader

from detachify.analysis import knowledge as K

GRAD_ERROR = "Can't call numpy() on Tensor that requires grad"

# The trainer entry point that runs each hook (fit runs the validation hooks too, in its validation loop).
HOOK_RUNNERS = {
    "validation_step": ("validate", "fit"),
    "on_validation_batch_end": ("validate", "fit"),
    "test_step": ("test",),
    "on_test_batch_end": ("test",),
    "predict_step": ("predict",),
    "on_predict_batch_end": ("predict",),
    "on_validation_epoch_end": ("validate", "fit"),
    "on_test_epoch_end": ("test",),
}
# Hooks that get no batch (the probe makes one) or get it before the step; same runners as their loop.
BATCHLESS_HOOKS = {
    "on_validation_start": ("validate", "fit"), "on_validation_epoch_start": ("validate", "fit"),
    "on_validation_end": ("validate", "fit"),
    "on_test_start": ("test",), "on_test_epoch_start": ("test",), "on_test_end": ("test",),
    "on_predict_start": ("predict",), "on_predict_epoch_start": ("predict",), "on_predict_epoch_end": ("predict",),
    "on_predict_end": ("predict",),
}
BATCH_START_HOOKS = {
    "on_validation_batch_start": ("validate", "fit"), "on_test_batch_start": ("test",),
    "on_predict_batch_start": ("predict",),
}
HOOK_RUNNERS.update(BATCHLESS_HOOKS)
HOOK_RUNNERS.update(BATCH_START_HOOKS)


def _import_or_skip(name):
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"could not import {name!r}: {type(exc).__name__}: {exc}")


@pytest.fixture(params=["lightning", "pytorch_lightning"])
def pl(request):
    """The Lightning package under test: `lightning.pytorch` (the unified package) or `pytorch_lightning`."""
    if request.param == "lightning":
        return _import_or_skip("lightning.pytorch")
    return _import_or_skip("pytorch_lightning")


@pytest.fixture(autouse=True)
def _grad_mode_on():
    torch.set_grad_enabled(True)
    torch.manual_seed(0)
    yield
    torch.set_grad_enabled(True)


def _probe(module, batch):
    """What the code of a hook sees: grad mode, and what `.numpy()` does on the module's output."""
    out = module(batch)
    try:
        out.numpy()  # noqa: TNP001,TNP901 (the point: it may raise)
        numpy = "ok"
    except RuntimeError as exc:
        numpy = str(exc)
    try:
        module.layer.weight.numpy()  # noqa: TNP001,TNP901 (a parameter: requires grad in every hook)
        weight_numpy = "ok"
    except RuntimeError as exc:
        weight_numpy = str(exc)
    return {"grad_enabled": torch.is_grad_enabled(), "requires_grad": out.requires_grad, "numpy": numpy,
            "weight_numpy": weight_numpy}


def _make_module(pl):
    class Probe(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(3, 2)
            self.seen = {}

        def forward(self, x):
            return self.layer(x)

        def _record(self, hook, batch):
            self.seen.setdefault(hook, _probe(self, batch))

        def training_step(self, batch, batch_idx):
            self._record("training_step", batch)
            return self(batch).sum()

        def validation_step(self, batch, batch_idx):
            self._record("validation_step", batch)

        def test_step(self, batch, batch_idx):
            self._record("test_step", batch)

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            self._record("predict_step", batch)
            return self(batch)

        def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            self._record("on_validation_batch_end", batch)

        def on_test_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            self._record("on_test_batch_end", batch)

        def on_predict_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            self._record("on_predict_batch_end", batch)

        def on_validation_epoch_end(self):
            self._record("on_validation_epoch_end", torch.randn(2, 3))

        def on_test_epoch_end(self):
            self._record("on_test_epoch_end", torch.randn(2, 3))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    for hook in BATCHLESS_HOOKS:
        setattr(Probe, hook, lambda self, _hook=hook: self._record(_hook, torch.randn(2, 3)))
    for hook in BATCH_START_HOOKS:
        setattr(Probe, hook, lambda self, batch, batch_idx, dataloader_idx=0, _hook=hook: self._record(_hook, batch))
    return Probe()


def _loader():
    return DataLoader(torch.randn(4, 3), batch_size=2)


def _run(pl, entry, tmp_path, inference_mode=True):
    """Run one trainer entry point on a fresh probe module, one batch; return what the hooks saw."""
    module = _make_module(pl)
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=1, limit_train_batches=1, limit_val_batches=1,
        limit_test_batches=1, limit_predict_batches=1, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path, inference_mode=inference_mode,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "does not have many workers", "GPU available but not used", ...
        if entry == "fit":
            trainer.fit(module, train_dataloaders=_loader(), val_dataloaders=_loader())
        else:
            getattr(trainer, entry)(module, dataloaders=_loader())
    return module.seen


def test_every_hook_has_a_runner():
    """A hook added to the table without a way to run it here would go unproven."""
    assert set(K.LIGHTNING_NO_GRAD_HOOKS) <= set(HOOK_RUNNERS)


@pytest.mark.parametrize("inference_mode", [True, False], ids=["inference_mode", "no_grad"])
@pytest.mark.parametrize("hook", sorted(K.LIGHTNING_NO_GRAD_HOOKS))
def test_no_grad_hook(pl, hook, inference_mode, tmp_path):
    for entry in HOOK_RUNNERS[hook]:
        seen = _run(pl, entry, tmp_path, inference_mode)
        assert hook in seen, f"trainer.{entry} did not call {hook}"
        got = seen[hook]
        assert (got["grad_enabled"], got["requires_grad"], got["numpy"]) == (False, False, "ok"), (entry, got)
        # torch refuses `.numpy()` only while grad mode is on: a parameter (requires_grad=True) converts here too.
        assert got["weight_numpy"] == "ok", (entry, got)


@pytest.mark.parametrize("inference_mode", [True, False], ids=["inference_mode", "no_grad"])
def test_training_step_runs_with_grad(pl, inference_mode, tmp_path):
    """The contrast: under `fit`, `training_step` runs with grad on and `.numpy()` on the output raises."""
    seen = _run(pl, "fit", tmp_path, inference_mode)["training_step"]
    assert seen["grad_enabled"] and seen["requires_grad"]
    assert GRAD_ERROR in seen["numpy"] and GRAD_ERROR in seen["weight_numpy"]


@pytest.mark.parametrize("qname", sorted(K.LIGHTNING_MODULES))
def test_lightning_module_name(qname):
    module_name, _, attr = qname.rpartition(".")
    _import_or_skip(qname.split(".")[0])
    cls = getattr(importlib.import_module(module_name), attr)
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    assert qname in K.MODULE_BASES


LIGHTNING_SOURCE = """\
import lightning.pytorch as pl
from torch import nn


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 2)

    def {hook}(self, *args, **kwargs):
        return self.layer(self.example).numpy()
"""


@pytest.mark.parametrize("hook", sorted(K.LIGHTNING_NO_GRAD_HOOKS | {"training_step"}))
def test_analysis_follows_the_hook_table(hook):
    """What the table says reaches the analysis: no finding in a no-grad hook, one in `training_step`."""
    import detachify

    codes = [f.code for f in detachify.check_source(LIGHTNING_SOURCE.format(hook=hook))]
    assert codes == ([] if hook in K.LIGHTNING_NO_GRAD_HOOKS else ["TNP001"])
