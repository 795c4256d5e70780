"""Small model directories written by Hugging Face transformers (and PEFT),
with reference logits, for insitu's CI test
crates/insitu-train/tests/formats_transformers.rs.

For each architecture (a Llama with grouped-query attention and untied
embeddings; a Qwen2 with attention biases and tied embeddings) this writes,
under OUT/<name>/:
  config.json, generation_config.json, model.safetensors   (save_pretrained)
  tokenizer.json, tokenizer_config.json, ...               (tokenizer save_pretrained)
  adapter/adapter_config.json, adapter/adapter_model.safetensors
                                                           (PEFT save_pretrained,
                                                            random non-zero A and B)
  reference.safetensors   input ids; base and base+adapter logits computed by
                          transformers/PEFT in float32 (`*_logits_<i>`) and,
                          from the same weights, in float64 (`*_logits_f64_<i>`)

Everything is random and tiny (a few hundred KB); nothing is downloaded.
"""

import copy
import os
import sys

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast,
                          Qwen2Config, Qwen2ForCausalLM)

VOCAB = 96
WORDS = ["<unk>", "<s>", "</s>", "<pad>"] + [f"w{i}" for i in range(VOCAB - 4)]

ARCHS = {
    "llama_gqa": (LlamaConfig, LlamaForCausalLM, dict(
        hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, rope_theta=10000.0, tie_word_embeddings=False, rms_norm_eps=1e-5),
        dict(r=4, lora_alpha=8, use_rslora=False,
             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])),
    "qwen2_bias_tied": (Qwen2Config, Qwen2ForCausalLM, dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, rope_theta=1000000.0, tie_word_embeddings=True, rms_norm_eps=1e-6),
        dict(r=8, lora_alpha=16, use_rslora=True, target_modules=["q_proj", "v_proj", "down_proj"])),
}

PROMPTS = [[1, 5, 9, 23, 40, 41, 7, 2], [1] + [(7 * i + 3) % (VOCAB - 4) + 4 for i in range(29)]]


def tokenizer():
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", pad_token="<pad>")


def logits(model, suffix=""):
    out = {}
    with torch.no_grad():
        for i, ids in enumerate(PROMPTS):
            t = torch.tensor([ids])
            out[f"input_ids_{i}"] = t[0].to(torch.int64)
            out[f"logits{suffix}_{i}"] = model(input_ids=t).logits[0].contiguous()
    return out


def make(out_root):
    for name, (config_cls, model_cls, kwargs, lora) in ARCHS.items():
        out = os.path.join(out_root, name)
        os.makedirs(out, exist_ok=True)
        torch.manual_seed(20261124)
        config = config_cls(vocab_size=VOCAB, max_position_embeddings=64, bos_token_id=1,
                            eos_token_id=2, pad_token_id=3, **kwargs)
        model = model_cls(config).eval()
        # Random init is near zero; widen it so that differences show.
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(8.0)
        model.save_pretrained(out, safe_serialization=True)
        tokenizer().save_pretrained(out)
        # float64 copies of the same weights give the exact answer that both
        # float32 implementations approximate.
        model64 = copy.deepcopy(model).double()
        ref = {k.replace("logits", "base_logits"): v for k, v in logits(model).items()}
        ref.update({k.replace("logits", "base_logits"): v
                    for k, v in logits(model64, "_f64").items() if "logits" in k})
        peft_model = get_peft_model(model, LoraConfig(lora_dropout=0.0, init_lora_weights=False,
                                                      task_type="CAUSAL_LM", **lora)).eval()
        peft_model.save_pretrained(os.path.join(out, "adapter"))
        peft64 = copy.deepcopy(peft_model).double()
        ref.update({k.replace("logits", "adapter_logits"): v
                    for k, v in logits(peft_model).items() if "logits" in k})
        ref.update({k.replace("logits", "adapter_logits"): v
                    for k, v in logits(peft64, "_f64").items() if "logits" in k})
        save_file(ref, os.path.join(out, "reference.safetensors"))
        for junk in ["README.md"]:
            p = os.path.join(out, "adapter", junk)
            if os.path.exists(p):
                os.remove(p)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
        print(f"wrote {out} ({size // 1024} KB)")


if __name__ == "__main__":
    make(sys.argv[1])
