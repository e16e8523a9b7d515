"""torchaudio without its C++ extension (replaces the contributed hook, which collects it).

FoleyStudio uses only torchaudio's pure-Python parts (mel filter banks, the resampler). The PyPI
build of the extension links against CUDA, so collecting it would pull CUDA's runtime into the CPU
bundle; without the files torchaudio imports normally (it checks whether they exist).
"""

# Sources beside the bytecode, as the contributed hook does: torch's scripting reads them.
module_collection_mode = "pyz+py"
