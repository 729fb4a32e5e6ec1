"""Build a tiny Llama model directory that vLLM can load with ``--load-format dummy``.

Nothing is downloaded: the tokenizer is a byte-level BPE trained here, at run time, on a few fixed
sentences (so it encodes any text), and saved with a chat template that renders tools, tool calls
and tool results. The config is a 2-layer Llama with head size 64 in float32; vLLM fills the
weights with seeded random values, so greedy decoding is deterministic but meaningless.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

VOCAB_SIZE = 512
BOS, EOS, PAD = "<|begin|>", "<|end_of_text|>", "<|pad|>"
ROLE_TOKENS = ("<|system|>", "<|developer|>", "<|user|>", "<|assistant|>", "<|tool|>", "<|end|>")

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if tools %}<|system|>Tools:{% for tool in tools %} {{ tool.function.name }}"
    "{% endfor %}<|end|>{% endif %}"
    "{%- for message in messages %}<|{{ message.role }}|>"
    "{%- if message.content is string %}{{ message.content }}{% endif %}"
    "{%- for call in message.tool_calls or [] %} call {{ call.function.name }}"
    " {{ call.function.arguments | tojson }}{% endfor %}<|end|>"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|assistant|>{% endif %}"
)

_CORPUS = (
    "The quick brown fox jumps over the lazy dog. ",
    "Hello there, how are you today? I am fine, thank you for asking. ",
    "Paris is the capital of France and Rome is the capital of Italy. ",
    '{"city": "Paris", "unit": "celsius", "days": 3} ',
    "def main():\n    print('hello world')\n",
)


def _train_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[BOS, EOS, PAD, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer=trainer)
    return tokenizer


def build_tiny_llama(directory: Path) -> Path:
    """Write config, generation config and tokenizer into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(),
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        model_max_length=2048,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(directory)
    vocab_size = len(fast)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "hidden_act": "silu",
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "bos_token_id": fast.convert_tokens_to_ids(BOS),
        "eos_token_id": fast.convert_tokens_to_ids(EOS),
        "pad_token_id": fast.convert_tokens_to_ids(PAD),
    }
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    generation = {"bos_token_id": config["bos_token_id"], "eos_token_id": config["eos_token_id"]}
    (directory / "generation_config.json").write_text(json.dumps(generation), encoding="utf-8")
    return directory
