"""The workbench: a local web page to draw a digit, watch any convgrad network think, and watch it learn.

    convgrad serve runs/lenet/model.npz          # then open http://127.0.0.1:8000/

Three files, read in this order:

- :mod:`convgrad.web.api`: what the page asks for, as plain functions over NumPy and floor-5 code
  (the same preprocessing as ``convgrad predict``, ``summary``/``explain``, ``return_layers``,
  saliency); no HTTP in it.
- :mod:`convgrad.web.training`: one training run at a time in a worker thread, its events.
- :mod:`convgrad.web.app`: the Starlette application: routes, the JSON API, the event stream, the
  static page in ``static/``.

Starlette and uvicorn are the optional extra ``convgrad[web]``; only ``app`` and ``convgrad serve``
import them.
"""
