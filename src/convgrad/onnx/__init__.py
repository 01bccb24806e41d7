"""ONNX export: ``convgrad.onnx.export(model, example_input, "model.onnx")``.

Needs the optional ``onnx`` package at export time only (``pip install convgrad[onnx]``).
"""
from .export import HANDLERS, ExportError, export

__all__ = ["export", "ExportError", "HANDLERS"]
