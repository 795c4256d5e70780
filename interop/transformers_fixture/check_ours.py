"""PEFT loads the adapter insitu wrote onto the base model transformers
wrote, computes logits in float32 and float64, and compares them with the
logits insitu computed for the same adapter (its float32 run).

Usage: check_ours.py BASE_DIR OUT_DIR   (OUT_DIR holds adapter/ and
insitu_logits.safetensors, written by the Rust test
write_adapter_and_logits_for_peft). Prints PASS or exits non-zero.
"""

import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

TOLERANCE = 1e-4


def peft_logits(base_dir, adapter_dir, dtype, ids):
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype).eval()
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    cfg = model.peft_config["default"]
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].double(), cfg


def main(base_dir, out_dir):
    ours = load_file(f"{out_dir}/insitu_logits.safetensors")
    worst_vs_torch = worst_ours_exact = worst_torch_exact = 0.0
    i = 0
    while f"input_ids_{i}" in ours:
        ids = ours[f"input_ids_{i}"].tolist()
        mine = ours[f"logits_{i}"].double()
        f32, cfg = peft_logits(base_dir, f"{out_dir}/adapter", torch.float32, ids)
        f64, _ = peft_logits(base_dir, f"{out_dir}/adapter", torch.float64, ids)
        worst_vs_torch = max(worst_vs_torch, float((mine - f32).abs().max()))
        worst_ours_exact = max(worst_ours_exact, float((mine - f64).abs().max()))
        worst_torch_exact = max(worst_torch_exact, float((f32 - f64).abs().max()))
        i += 1
    print(f"PEFT loaded insitu's adapter: r={cfg.r} lora_alpha={cfg.lora_alpha} use_rslora={cfg.use_rslora} "
          f"target_modules={sorted(cfg.target_modules)}")
    print(f"{i} prompts: max |insitu - PEFT f32| = {worst_vs_torch:.2e}; "
          f"|insitu - f64| = {worst_ours_exact:.2e}; |PEFT f32 - f64| = {worst_torch_exact:.2e}")
    limit = max(TOLERANCE, 2.0 * worst_torch_exact)
    if worst_vs_torch > limit or worst_ours_exact > max(TOLERANCE, 1.5 * worst_torch_exact):
        sys.exit(f"FAIL: insitu's logits are further from PEFT/exact than PyTorch's own f32 rounding allows ({limit:.2e})")
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
