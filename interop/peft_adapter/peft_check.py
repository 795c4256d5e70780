"""PEFT adapter interop, both directions, on a tiny random Llama (no download).

  make-fixture DIR   PEFT saves a LoRA adapter (random A and B, r=8, alpha=16,
                     q_proj/v_proj/down_proj); insitu's Rust test reads it.
  load DIR           PEFT loads an adapter that insitu wrote onto the same
                     tiny base and checks every tensor arrived unchanged.
"""

import json
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM


def tiny_base():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(cfg).eval()


def make_fixture(out):
    model = get_peft_model(tiny_base(), LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj", "down_proj"],
        init_lora_weights=False, task_type="CAUSAL_LM"))
    model.save_pretrained(out)
    print(f"wrote {out}")


def load(adapter):
    with open(f"{adapter}/adapter_config.json") as f:
        cfg = json.load(f)
    model = PeftModel.from_pretrained(tiny_base(), adapter)
    written = load_file(f"{adapter}/adapter_model.safetensors")
    state = model.state_dict()
    checked = 0
    for name, tensor in written.items():
        key = name.replace(".lora_A.weight", ".lora_A.default.weight").replace(".lora_B.weight", ".lora_B.default.weight")
        if key not in state:
            sys.exit(f"FAIL: {name} has no place in the PEFT model")
        if not torch.equal(state[key], tensor):
            sys.exit(f"FAIL: {name} differs after loading")
        checked += 1
    lora = model.peft_config["default"]
    print(f"PEFT loaded insitu's adapter: r={lora.r} lora_alpha={lora.lora_alpha} "
          f"target_modules={sorted(lora.target_modules)} use_rslora={lora.use_rslora}; "
          f"{checked} tensors identical; config keys {len(cfg)}")
    print("PASS")


if __name__ == "__main__":
    {"make-fixture": make_fixture, "load": load}[sys.argv[1]](sys.argv[2])
