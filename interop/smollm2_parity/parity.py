"""Parity of insitu's SmolLM2 import with Hugging Face transformers.

transformers reads the GGUF file itself (`gguf_file=`) and is the reference.
Checked here, in Python:
  (a) token ids: transformers-from-GGUF vs insitu's tokenizer.json (loaded by
      transformers from insitu's directory) on >= 1,000 synthetic clinical
      sentences with unicode, whitespace runs and digits;
  (b) chat template: apply_chat_template from the GGUF vs from insitu's
      tokenizer_config.json, with and without the generation prompt;
  (c) logits: the GGUF model vs insitu's model.safetensors, both run by
      transformers in float32.
It also writes reference.json (sentences, ids, renders) and reference logits
so that the Rust test crates/insitu-train/tests/formats_smollm2.rs can check
insitu's own tokenizer, minijinja renderer and model against the same values.
All text is synthetic.
"""

import argparse
import json
import os
import random
import re
import sys

import torch
from safetensors.torch import save_file
from tokenizers import pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer

SEED = 20261123


def sentences(n, seed=SEED):
    """Varied synthetic clinical sentences, deterministic for a seed."""
    rng = random.Random(seed)
    subjects = ["Patient", "Pt", "Mrs Example", "Mr Sample", "The child", "Résident", "Zoë", "José",
                "Ms O'Neill", "Dr Müller", "The 78-year-old", "Łukasz", "Siobhán", "François"]
    verbs = ["admitted with", "reports", "denies", "presented with", "complains of", "was reviewed for",
             "has a history of", "was discharged after", "is being treated for", "was seen in A&E with"]
    findings = ["chest pain", "shortness of breath", "SOB", "RIF pain", "?PE", "pyrexia 38.4°C",
                "Na+ 131 mmol/L", "K⁺ 5.9", "HbA1c 64 mmol/mol", "BP 142/91", "HR 118 bpm", "SpO₂ 93% on air",
                "eGFR <30", "CRP 212", "troponin 14 ng/L", "café-au-lait macules", "naïve T-cells",
                "β-blocker intolerance", "μg dosing error", "T2DM", "COPD (GOLD 3)", "AF ± flutter",
                "a 3×4 cm mass", "pain 7/10", "Hb 8.9 g/dL", "INR 3.2", "lactate 4.1"]
    plans = ["Plan: repeat bloods in 6 hours.", "Started on amoxicillin 500 mg TDS.",
             "Refer to cardiology — urgent.", "Discharged home; GP to follow up.",
             "Continue 2.5mg bisoprolol OD.", "Obs every 4 hrs.", "NBM from 00:00.",
             "Safety-netting advice given.", "For CT head (NICE criteria met).", "Review at 09:30 ward round.",
             "TTO: paracetamol 1 g QDS PRN.", "Escalated to ITU outreach.", "DNACPR discussed with family…",
             "Bloods: WCC 14.2, neut 11.9.", "中文翻译 requested.", "Interpreter (العربية) booked.",
             "Patient happy with plan 🙂.", "Follow-up in 2/52.", "Rx: 0.25 mg digoxin."]
    whitespace = [" ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\t\t", "\u00a0", "\u2009"]
    out = []
    for i in range(n):
        parts = [rng.choice(subjects), rng.choice(verbs), rng.choice(findings)]
        if rng.random() < 0.5:
            parts.append("and " + rng.choice(findings))
        s = " ".join(parts) + rng.choice([".", ";", ",", " —", "!", "?"])
        if rng.random() < 0.7:
            s += rng.choice(whitespace) + rng.choice(plans)
        if rng.random() < 0.3:
            s = s.replace(" ", rng.choice(whitespace), rng.randint(1, 3))
        if rng.random() < 0.2:
            s += f" Ref {rng.randint(0, 10**10):010d} at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}."
        if rng.random() < 0.1:
            s = rng.choice(whitespace) + s + rng.choice(whitespace)
        if rng.random() < 0.05:
            s = "<|im_start|>user\n" + s + "<|im_end|>"
        if rng.random() < 0.05:
            s = s.upper()
        out.append(s)
    return out


def conversations():
    sys_msg = {"role": "system", "content": "You are a careful clinical documentation assistant."}
    return [
        [{"role": "user", "content": "Summarise the handover for bed 12."}],
        [sys_msg, {"role": "user", "content": "What does SOB mean?"}],
        [sys_msg, {"role": "user", "content": "Draft a discharge note."},
         {"role": "assistant", "content": "Discharge summary:\n- Diagnosis: CAP\n- Follow-up: GP in 2/52"},
         {"role": "user", "content": "Shorter,  please.\n"}],
        [{"role": "user", "content": "Café au lait — 🙂 中文\t tab"},
         {"role": "assistant", "content": "  leading and trailing spaces  "}],
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--ours", required=True, help="insitu's imported HF directory")
    ap.add_argument("--reference", required=True, help="reference.json to write")
    ap.add_argument("--logits", required=True, help="safetensors of reference logits to write")
    ap.add_argument("--logits-subset", help="small safetensors (a fixed sample of vocabulary columns at every position, "
                    "and the full last position) to commit for CI")
    ap.add_argument("--sentences", type=int, default=1200)
    args = ap.parse_args()
    gdir, gname = os.path.split(os.path.abspath(args.gguf))
    torch.manual_seed(0)
    report = []
    ok = True

    ref_tok = AutoTokenizer.from_pretrained(gdir, gguf_file=gname)
    our_tok = AutoTokenizer.from_pretrained(args.ours)
    # transformers' GGUF loader has no entry for llama.cpp's "smollm"
    # pre-tokenizer and falls back to plain GPT-2 splitting. SmolLM2's own
    # tokenizer.json (and llama.cpp) first isolate every digit, then apply
    # GPT-2's split: the same vocabulary with that pre-tokenizer is the
    # faithful reference. Both are reported.
    faithful = AutoTokenizer.from_pretrained(gdir, gguf_file=gname)
    faithful.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])

    # (a) token ids
    texts = sentences(args.sentences)
    records, mismatches, raw_mismatches, explained = [], 0, 0, 0
    for t in texts:
        raw = ref_tok.encode(t, add_special_tokens=True)
        want = faithful.encode(t, add_special_tokens=True)
        got = our_tok.encode(t, add_special_tokens=True)
        if raw != got:
            raw_mismatches += 1
            # A whitespace run directly before a digit: GPT-2's split keeps
            # the last blank for the number, SmolLM2's isolates the digit.
            if re.search(r"\s\d", t) and want == got:
                explained += 1
        if want != got:
            mismatches += 1
            if mismatches <= 5:
                print(f"token mismatch: {t!r}\n  transformers {want}\n  insitu       {got}", file=sys.stderr)
        records.append({"text": t, "ids": want, "decoded": faithful.decode(want)})
    ok &= mismatches == 0
    report.append(f"(a) tokenizer: {len(texts) - mismatches}/{len(texts)} sentences give identical ids "
                  f"(transformers' GGUF vocabulary with SmolLM2's digit-isolating pre-tokenizer)")
    report.append(f"    transformers' GGUF tokenizer as loaded: {len(texts) - raw_mismatches}/{len(texts)} identical; "
                  f"{explained} of the {raw_mismatches} differences are whitespace runs before digits, "
                  f"which transformers splits without SmolLM2's digit pre-tokenizer")

    # (b) chat template
    chats, chat_mismatch, n_chat = [], 0, 0
    for conv in conversations():
        for gen in (False, True):
            want = ref_tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
            got = our_tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
            n_chat += 1
            if want != got:
                chat_mismatch += 1
                print(f"chat mismatch:\n{want!r}\n{got!r}", file=sys.stderr)
            chats.append({"messages": conv, "add_generation_prompt": gen, "text": want})
    ok &= chat_mismatch == 0
    report.append(f"(b) chat template: {n_chat - chat_mismatch}/{n_chat} renders byte-identical between the GGUF's template and "
                  f"insitu's tokenizer_config.json (Jinja2; insitu's minijinja renders are checked by the Rust test)")

    with open(args.reference, "w", encoding="utf-8") as f:
        json.dump({"seed": SEED, "source": gname, "sentences": records, "chats": chats}, f, ensure_ascii=False, indent=0)
        f.write("\n")

    # (c) logits
    ref_model = AutoModelForCausalLM.from_pretrained(gdir, gguf_file=gname, dtype=torch.float32).eval()
    our_model = AutoModelForCausalLM.from_pretrained(args.ours, dtype=torch.float32).eval()
    prompts = [
        ref_tok.apply_chat_template(conversations()[0], tokenize=False, add_generation_prompt=True),
        texts[0],
        "Handover: 82M, day 3 post hip #, Hb 8.9, plan transfuse 1 unit.",
    ]
    tensors, worst = {}, 0.0
    with torch.no_grad():
        for i, p in enumerate(prompts):
            ids = ref_tok(p, return_tensors="pt").input_ids
            want = ref_model(ids).logits[0]
            got = our_model(ids).logits[0]
            worst = max(worst, (want - got).abs().max().item())
            tensors[f"input_ids_{i}"] = ids[0].to(torch.int64).contiguous()
            tensors[f"logits_{i}"] = want.contiguous()
    save_file(tensors, args.logits)
    if args.logits_subset:
        # The full logits are tens of MB; CI checks a seeded sample of 1,024
        # vocabulary columns at every position plus the whole last row.
        cols = torch.tensor(sorted(random.Random(SEED).sample(range(want.shape[-1]), 1024)), dtype=torch.int64)
        subset = {"columns": cols}
        for i in range(len(prompts)):
            full = tensors[f"logits_{i}"]
            subset[f"input_ids_{i}"] = tensors[f"input_ids_{i}"]
            subset[f"logits_columns_{i}"] = full[:, cols].contiguous()
            subset[f"logits_last_{i}"] = full[-1].contiguous()
        save_file(subset, args.logits_subset)
    ok &= worst <= 1e-3
    report.append(f"(c) logits, transformers on the GGUF vs transformers on insitu's safetensors: max |diff| = {worst:.3g} over {len(prompts)} prompts (limit 1e-3)")

    print("\n".join(report))
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
