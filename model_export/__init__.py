"""PyTorch -> ONNX export of the screen codec into a model directory for the serving runtime.

``export``    checkpoint loading, export-only modules (GDN without LowerBound), the ONNX graphs and
              manifest.json (format, model id, hashes, qualities, entropy tables, detector, versions)
``parity``    ONNX Runtime (CPU) vs PyTorch on a random, a rendered and a real screenshot; an export
              whose parity fails is not written
``__main__``  ``python -m model_export --checkpoint PATH --out DIR [--fp16-synthesis] [--detector NAME]``

Layout and fields: docs/RUNTIME.md.
"""
