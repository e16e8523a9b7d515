"""Text conditioner: token ids -> tokens [N, L, D].

Two encoders share one interface (``tokenize(text) -> ids``, ``forward(ids, mask) -> tokens``):

* `TextEncoder`, built in: word embedding + a small transformer encoder, trained with the DiT from
  our captions; its `WordTokenizer` travels with the model as JSON.
* `TransformersTextEncoder`, optional: a local HuggingFace ``transformers`` encoder loaded from a
  folder with ``local_files_only=True`` (never downloads), frozen, with a trained projection of its
  hidden states to the model width. ``transformers`` is imported only when one is loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from foleystudio.engine.conditioners.layers import EncoderBlock, index_positions
from foleystudio.engine.conditioners.tokenizer import PAD_ID, WordTokenizer
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)


class TextEncoder(nn.Module):
    """Built-in text encoder; padded positions (mask False) come out as zeros."""

    def __init__(self, tokenizer: WordTokenizer, out_width: int, width: int, depth: int, heads: int,
                 max_tokens: int) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.embed = nn.Embedding(tokenizer.vocab_size, width, padding_idx=PAD_ID)
        nn.init.normal_(self.embed.weight, std=width**-0.5)
        with torch.no_grad():
            self.embed.weight[PAD_ID].zero_()
        self.blocks = nn.ModuleList(EncoderBlock(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, out_width)

    def set_tokenizer(self, tokenizer: WordTokenizer) -> None:
        """Swap in a retrained tokenizer; its id space must match the embedding table."""
        if tokenizer.vocab_size != self.embed.num_embeddings:
            raise UserInputError(
                f"tokenizer has {tokenizer.vocab_size} ids but the text encoder expects {self.embed.num_embeddings}"
            )
        self.tokenizer = tokenizer

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, self.max_tokens)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids)
        h = h + index_positions(ids.shape[1], h.shape[-1], ids.device).to(h.dtype)
        for block in self.blocks:
            h = block(h, mask)
        return self.proj(self.norm(h)) * mask[..., None].to(h.dtype)


class TransformersTextEncoder(nn.Module):
    """A local HuggingFace encoder (frozen) + a linear projection to the model width."""

    def __init__(self, path: str | Path, out_width: int, max_tokens: int) -> None:
        super().__init__()
        path = Path(path)
        _check_model_folder(path)
        self.path = path
        self.max_tokens = max_tokens
        self.hf_tokenizer, encoder = _load_transformers(path)
        encoder.requires_grad_(False)
        encoder.eval()
        # Kept out of the state dict (and of checkpoints): it is loaded from its own folder.
        self.__dict__["encoder"] = encoder
        hidden = int(getattr(encoder.config, "hidden_size", 0) or getattr(encoder.config, "d_model", 0))
        if hidden <= 0:
            raise UserInputError(f"{path}: the text model's config gives no hidden size")
        self.proj = nn.Linear(hidden, out_width)

    def tokenize(self, text: str) -> list[int]:
        ids = self.hf_tokenizer(text, truncation=True, max_length=self.max_tokens)["input_ids"]
        return list(ids)

    def _apply(self, fn, recurse=True):
        # Keep the frozen encoder on the same device as the projection.
        self.__dict__["encoder"]._apply(fn)
        return super()._apply(fn, recurse)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            hidden = self.__dict__["encoder"](input_ids=ids, attention_mask=mask.long()).last_hidden_state
        hidden = hidden.to(self.proj.weight.dtype)
        return self.proj(hidden) * mask[..., None].to(hidden.dtype)


def _check_model_folder(path: Path) -> None:
    if not path.exists():
        raise UserInputError(f"{path}: no such text model folder")
    if not path.is_dir():
        raise UserInputError(f"{path}: a text model must be a folder (with config.json and weights), not a file")
    if not (path / "config.json").is_file():
        raise UserInputError(f"{path}: not a transformers model folder (no config.json)")


def _load_transformers(path: Path):
    try:
        import transformers  # noqa: PLC0415 - heavy, and only needed for this optional encoder
    except ImportError:
        raise UserInputError("a local text model needs the 'transformers' package, which is not installed") from None
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise UserInputError(f"{path}: cannot load the text model ({error})") from None
    # Encoder-decoder models (T5) are used through their encoder; encoder-only models (BERT) as is.
    encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model
    logger.info("loaded local text model %s (%s)", path, type(encoder).__name__)
    return tokenizer, encoder
