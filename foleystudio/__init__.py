"""FoleyStudio: Foley authoring with a local multimodal-conditioned diffusion transformer."""

# The one place the version lives: pyproject.toml reads it, `--version` and the About box show it.
__version__ = "0.1.0"
