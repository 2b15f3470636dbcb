"""The responses of one ISR-DPO round, sampled with vLLM's offline engine.

Written by ISR Studio (`isr-studio export --format vllm-job`); job.json beside it holds the run's
sampling settings under vLLM's names, prompts.jsonl the round's prompts as the studio renders them.
Run it with `python generate_vllm.py`; bring responses.jsonl back with `isr-studio import-responses`.

Each prompt goes to `LLM.generate` as {"prompt": prompt_text, "multi_modal_data": {...}} with its
video's frames read at the times the studio reads them, and one SamplingParams per prompt (n
samples, the prompt's seed). A sample identical to another of its prompt is drawn again with the
next seed, as the studio's responses phase does. Rows are appended as each batch finishes, so a
killed run goes on from the prompts the file already holds.
"""

import argparse
import json
import os

from PIL import Image
from vllm import LLM, SamplingParams

from isr_job import job_arguments, load_job, read_frames, resolve_video

# The studio's seed step between re-draws of one sample (src/main/isr/seeds.ts: attempt * 1_000_000_007).
REDRAW_STEP = 1_000_000_007


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    job_arguments(parser, __file__)
    parser.add_argument("--output", help="the responses file (default: the job's responses.jsonl)")
    parser.add_argument("--batch", type=int, default=64, help="prompts per LLM.generate call")
    parser.add_argument("--tensor-parallel-size", type=int, default=1)
    parser.add_argument("--max-model-len", type=int, help="vLLM's max_model_len (default: the model's)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    return parser.parse_args()


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def visual_input(job, frames):
    """The frames as vLLM's multi_modal_data: one video array, or one image per frame."""
    if job["modality"] == "video":
        return {"video": frames}
    return {"image": [Image.fromarray(frame) for frame in frames]}


def sampling(job, seed, n):
    s = job["sampling"]
    return SamplingParams(
        n=n,
        temperature=s["temperature"],
        top_p=s["top_p"],
        max_tokens=s["max_tokens"],
        seed=seed,
        stop_token_ids=s["stop_token_ids"],
        skip_special_tokens=s["skip_special_tokens"],
    )


def draw(llm, job, requests):
    """requests: (prompt row, visual input, seed, n) -> for each, its n (text, token count, finish reason)."""
    outputs = llm.generate(
        [{"prompt": row["prompt_text"], "multi_modal_data": visual} for row, visual, _, _ in requests],
        [sampling(job, seed, n) for _, _, seed, n in requests],
    )
    return [[(o.text, len(o.token_ids), o.finish_reason) for o in out.outputs] for out in outputs]


def sample_batch(llm, job, rows, visuals):
    """Every sample of each prompt, re-drawing one identical to an earlier sample of its prompt."""
    n = job["sampling"]["n"]
    drawn = draw(llm, job, [(row, visual, row["seed"], n) for row, visual in zip(rows, visuals)])
    seeds = [[row["seed"]] * n for row in rows]
    for attempt in range(1, job["sampling"]["redraws"] + 1):
        again = []
        for i, samples in enumerate(drawn):
            seen = set()
            for k, (text, _, _) in enumerate(samples):
                if text in seen:
                    again.append((i, k))
                seen.add(text)
        if not again:
            break
        redrawn = draw(llm, job, [(rows[i], visuals[i], (rows[i]["seed"] + k * 7 + attempt * REDRAW_STEP) % 2**31, 1) for i, k in again])
        for (i, k), [sample] in zip(again, redrawn):
            drawn[i][k] = sample
            seeds[i][k] = (rows[i]["seed"] + k * 7 + attempt * REDRAW_STEP) % 2**31
    return [
        {"prompt_id": row["prompt_id"], "sample": k, "text": text, "token_count": count, "seed": seeds[i][k], "finish_reason": reason}
        for i, row in enumerate(rows)
        for k, (text, count, reason) in enumerate(drawn[i])
    ]


def main():
    args = parse_args()
    job, job_dir, model = load_job(args, "vllm-job")
    output = args.output or os.path.join(job_dir, job["output"])
    prompts = read_jsonl(os.path.join(job_dir, job["prompts"]))
    done = {}
    if os.path.exists(output):
        for r in read_jsonl(output):
            done[r["prompt_id"]] = done.get(r["prompt_id"], 0) + 1
    todo = [p for p in prompts if done.get(p["prompt_id"], 0) < job["sampling"]["n"]]
    # A prompt cut short by a kill is sampled again whole: its partial rows go.
    if any(0 < done.get(p["prompt_id"], 0) for p in todo):
        keep = [r for r in read_jsonl(output) if done[r["prompt_id"]] >= job["sampling"]["n"]]
        with open(output, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in keep)
    print(f"{len(prompts) - len(todo)} of {len(prompts)} prompts already sampled; sampling {len(todo)}")

    per_prompt = job["placeholder"]["per_prompt"]
    llm = LLM(
        model=model,
        tensor_parallel_size=args.tensor_parallel_size,
        gpu_memory_utilization=args.gpu_memory_utilization,
        limit_mm_per_prompt={job["modality"]: per_prompt if job["modality"] == "image" else 1},
        **({"max_model_len": args.max_model_len} if args.max_model_len else {}),
    )
    for start in range(0, len(todo), args.batch):
        rows = todo[start:start + args.batch]
        visuals = [visual_input(job, read_frames(resolve_video(job_dir, r["video"], args.video_root), r["frame_times"])) for r in rows]
        lines = sample_batch(llm, job, rows, visuals)
        with open(output, "a", encoding="utf-8") as f:
            f.writelines(json.dumps(line) + "\n" for line in lines)
        print(f"{min(start + args.batch, len(todo))} of {len(todo)} prompts sampled")
    print(f"responses written to {output}: bring them back with isr-studio import-responses --run {job['run']} --round {job['round']} --file {output}")


if __name__ == "__main__":
    main()
