"""ONNX export: ``convgrad.onnx.export(model, example_input, "model.onnx")``.

Needs the optional ``onnx`` package at export time only (``pip install convgrad[onnx]``).
"""
from .export import HANDLERS, ExportError, export, export_checkpoint

__all__ = ["export", "export_checkpoint", "ExportError", "HANDLERS"]
