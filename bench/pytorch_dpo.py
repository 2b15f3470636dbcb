"""A plain PyTorch DPO update of a Qwen2 decoder with LoRA, for `npm run bench -- pytorch`.

The same work as the studio's update graph (src/main/engine/train), written the way a researcher
would in eager PyTorch after transformers' modeling_qwen2.py and PEFT's LoRA: RMSNorm, rotary
positions, grouped-query attention with q/k/v biases, a SiLU MLP; LoRA's delta scale * (x A) B on
the listed projections; logits only where a response token is predicted; TRL's sigmoid DPO loss
against the reference log-probs; clip_grad_norm_ and torch.optim.AdamW. Optionally each decoder
layer under torch.utils.checkpoint, as the studio's gradient checkpointing.

Reads a job written by bench/pytorch.ts (job.json beside params.bin: the starting LoRA factors in
the studio's MatMul layout, the examples, the batch order, the learning rates and the reference
log-probs) and prints one JSON line per update: its loss, before the update as TRL logs it, and
its seconds. Also prints the reference log-probs it computes itself with the adapters at zero.
"""
import json
import math
import mmap
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def read_safetensors(path, wanted):
    """The tensors of a safetensors file whose names `wanted` maps to a key, as float32 torch tensors (F32, F16, BF16)."""
    out = {}
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    base = 8 + size
    for name, info in header.items():
        key = None if name == "__metadata__" else wanted(name)
        if key is None:
            continue
        start, end = info["data_offsets"]
        raw = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=base + start)
        if info["dtype"] == "F32":
            array = raw.view(np.float32)
        elif info["dtype"] == "F16":
            array = raw.view(np.float16).astype(np.float32)
        elif info["dtype"] == "BF16":
            array = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, not F32, F16 or BF16")
        out[key] = torch.from_numpy(array.copy()).reshape(info["shape"])
    return out


class Qwen2LoRA:
    def __init__(self, job, params):
        cfg = job["text"]
        self.layers = cfg["numLayers"]
        self.heads = cfg["numHeads"]
        self.kv_heads = cfg["numKvHeads"]
        self.hidden = cfg["hiddenSize"]
        self.head_dim = cfg["headDim"]
        self.eps = cfg["rmsNormEps"]
        self.theta = cfg["rope"]["theta"]
        # The text model's tensors under the names PEFT's modules have ("model.layers.0.self_attn.q_proj.weight").
        prefix, head = job["textPrefix"], job["lmHead"]
        self.w = read_safetensors(job["weights"], lambda name: "lm_head.weight" if name == head else "model." + name[len(prefix):] if name.startswith(prefix) else None)
        if head is None:
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.scale = job["lora"]["alpha"] / job["lora"]["r"]
        self.lora = {}
        for name, t in params.items():
            module, factor = name.rsplit(".lora_", 1)
            self.lora.setdefault(module, {})[factor] = t
        self.checkpointing = job["gradientCheckpointing"]

    def trainable(self):
        return [f[k] for f in self.lora.values() for k in ("A", "B")]

    def linear(self, x, module):
        y = F.linear(x, self.w[f"{module}.weight"], self.w.get(f"{module}.bias"))
        adapter = self.lora.get(module)
        if adapter is not None:
            y = y + (x @ adapter["A"] * self.scale) @ adapter["B"]
        return y

    def rms(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    def rope(self, seq):
        inv = 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv)
        emb = torch.cat([freqs, freqs], -1)
        return emb.cos(), emb.sin()

    @staticmethod
    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin

    def layer(self, i, h, cos, sin, mask):
        p = f"model.layers.{i}"
        batch, seq, _ = h.shape
        x = self.rms(h, self.w[f"{p}.input_layernorm.weight"])
        q = self.linear(x, f"{p}.self_attn.q_proj").view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = self.linear(x, f"{p}.self_attn.k_proj").view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.linear(x, f"{p}.self_attn.v_proj").view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = self.rotate(q, cos, sin), self.rotate(k, cos, sin)
        groups = self.heads // self.kv_heads
        k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
        attn = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, seq, self.heads * self.head_dim)
        h = h + self.linear(attn, f"{p}.self_attn.o_proj")
        x = self.rms(h, self.w[f"{p}.post_attention_layernorm.weight"])
        gate = F.silu(self.linear(x, f"{p}.mlp.gate_proj"))
        return h + self.linear(gate * self.linear(x, f"{p}.mlp.up_proj"), f"{p}.mlp.down_proj")

    def response_logps(self, ids, prompt):
        """Summed log-probs of each row's tokens after `prompt` (rows of equal length, no padding)."""
        batch, seq = ids.shape
        h = self.w["model.embed_tokens.weight"][ids]
        cos, sin = self.rope(seq)
        mask = torch.full((seq, seq), -1e9).triu(1)
        for i in range(self.layers):
            if self.checkpointing:
                h = checkpoint(self.layer, i, h, cos, sin, mask, use_reentrant=False)
            else:
                h = self.layer(i, h, cos, sin, mask)
        h = self.rms(h[:, prompt - 1 : seq - 1], self.w["model.norm.weight"])
        logps = F.linear(h, self.w["lm_head.weight"]).log_softmax(-1)
        return logps.gather(-1, ids[:, prompt:].unsqueeze(-1)).squeeze(-1).sum(-1)


def main():
    folder = sys.argv[1]
    job = json.load(open(os.path.join(folder, "job.json")))
    torch.set_num_threads(job["threads"])
    blob = np.fromfile(os.path.join(folder, "params.bin"), dtype=np.float32)
    params = {}
    for p in job["params"]:
        params[p["name"]] = torch.from_numpy(blob[p["offset"] : p["offset"] + math.prod(p["dims"])].copy()).reshape(p["dims"]).requires_grad_()
    model = Qwen2LoRA(job, params)
    examples = job["examples"]
    prompt = len(examples[0]["prompt"])
    rows = lambda indices, key: torch.tensor([examples[i]["prompt"] + examples[i][key] for i in indices])

    with torch.no_grad():
        saved = [b.clone() for b in (f["B"] for f in model.lora.values())]
        for f in model.lora.values():
            f["B"].zero_()
        everything = list(range(len(examples)))
        reference = torch.cat([model.response_logps(rows(everything, "chosen"), prompt), model.response_logps(rows(everything, "rejected"), prompt)])
        for f, b in zip(model.lora.values(), saved):
            f["B"].copy_(b)
    print(json.dumps({"reference": reference.tolist()}), flush=True)

    given = torch.tensor(job["reference"])
    optimizer = torch.optim.AdamW(model.trainable(), lr=job["lrs"][0], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    batch = job["batchSize"]
    n = len(examples)
    for step, lr in enumerate(job["lrs"]):
        t0 = time.perf_counter()
        indices = job["order"][step * batch : (step + 1) * batch]
        logps = model.response_logps(torch.cat([rows(indices, "chosen"), rows(indices, "rejected")]), prompt)
        chosen, rejected = logps[: len(indices)], logps[len(indices) :]
        ref_chosen, ref_rejected = given[indices], given[[n + i for i in indices]]
        loss = -F.logsigmoid(job["beta"] * ((chosen - rejected) - (ref_chosen - ref_rejected))).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.trainable(), job["maxGradNorm"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        print(json.dumps({"step": step + 1, "loss": loss.item(), "seconds": time.perf_counter() - t0}), flush=True)


if __name__ == "__main__":
    main()
