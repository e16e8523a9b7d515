"""The generator (codec, conditioners, DiT, sampler, LUFS predictor, pipeline). Never imports Qt.

Filled in by the generation-engine work; the import contract already covers it.
"""
