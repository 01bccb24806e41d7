"""``torch.nn.parallel`` on one CPU: ``data_parallel`` and ``DataParallel`` run the module as is.

PyTorch programs import this to spread a batch over several GPUs when ``ngpu > 1``; convgrad has
no GPUs, so both simply call the module (with ``device_ids`` None or empty), and a request for
device ids says that convgrad runs on the CPU. Data-parallel training over processes is
``convgrad.distributed``.
"""
from ..errors import DeviceError
from .module import Module


def _check(device_ids):
    if device_ids is not None and len(list(device_ids)) > 0:
        raise DeviceError(f"data_parallel: device_ids {list(device_ids)} name GPUs; convgrad runs on the CPU only "
                          f"(for several processes see convgrad.distributed)")


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``module(inputs)`` (on the CPU: there are no devices to spread the batch over)."""
    _check(device_ids)
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))


class DataParallel(Module):
    """Wraps ``module`` and calls it unchanged; ``.module`` is the wrapped module (state_dict keys
    gain the ``module.`` prefix, as in PyTorch)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        _check(device_ids)
        self.module = module

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
