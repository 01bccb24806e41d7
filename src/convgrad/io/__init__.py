"""Saving and loading: convgrad checkpoints (``.npz`` or ``.safetensors``, never pickle).

    convgrad.save(model, "lenet.npz", preprocessing={"mean": [0.1307], "std": [0.3081]})
    model = convgrad.load("lenet.npz")          # rebuilt by name through convgrad.models
    ckpt = convgrad.io.load_checkpoint("lenet.npz")   # everything: weights, metadata, training state
"""
from .checkpoint import (Checkpoint, CheckpointError, atomic_write, build_model, load, load_checkpoint, save,
                         save_checkpoint)
from .safetensors_io import SafetensorsError, load_safetensors, save_safetensors
from .torch_interop import TorchCheckpointError, export_torch_state_dict, load_torch_checkpoint, save_torch_checkpoint
