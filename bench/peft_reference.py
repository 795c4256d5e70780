"""PyTorch + PEFT side of `cargo xtask bench train`.

Trains LoRA on a Llama-family model with exactly the settings insitu's bench
uses and prints one JSON line {tokens_per_sec, peak_rss_bytes, ...} on stdout.
The model is either a random init of a config.json (`--config`, the shapes of
the bench) or a real Hugging Face directory (`--model DIR`). The token ids come
from the same file insitu trains on (`--ids`, JSON list of rows), so both
stacks see the same shape and data. Loss is on every position (labels = ids,
shifted inside transformers), AdamW, global-norm clipping at 1.0, LoRA dropout.
"""

import argparse
import json
import resource
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="config.json to initialise randomly")
    src.add_argument("--model", help="Hugging Face model directory to load")
    p.add_argument("--ids", required=True, help="JSON file: list of rows of token ids")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32.0)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    import torch
    import transformers
    import peft
    from transformers import AutoConfig, AutoModelForCausalLM
    from peft import LoraConfig, get_peft_model

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.model:
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    else:
        cfg = AutoConfig.from_pretrained(a.config)
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    model.config.use_cache = False
    lora = LoraConfig(
        r=a.rank,
        lora_alpha=a.alpha,
        lora_dropout=a.dropout,
        target_modules=a.targets.split(","),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)

    with open(a.ids) as f:
        rows = json.load(f)
    need = a.batch * (a.warmup + a.steps)
    if len(rows) < need:
        print(f"error: {a.ids}: {len(rows)} rows, need {need}", file=sys.stderr)
        return 2
    data = torch.tensor(rows[:need], dtype=torch.long)
    seq = data.shape[1]

    timed_start = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            timed_start = time.perf_counter()
        t0 = time.perf_counter()
        ids = data[step * a.batch : (step + 1) * a.batch]
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        print(f"step {step + 1:>3}  loss {out.loss.item():.4f}  {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    timed = time.perf_counter() - (timed_start if timed_start is not None else time.perf_counter())
    tokens = a.steps * a.batch * seq
    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "stack": f"torch {torch.__version__} + transformers {transformers.__version__} + peft {peft.__version__}",
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "tokens_per_sec": tokens / timed if timed > 0 else None,
        "peak_rss_bytes": peak,
        "threads": torch.get_num_threads(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
