"""DPO training of one ISR-DPO round with TRL's DPOTrainer and a PEFT LoRA adapter.

Written by ISR Studio (`isr-studio export --format trl-job`); job.json beside it holds the round's
settings under TRL's and PEFT's names, pairs.jsonl the pairs. Run it with
`accelerate launch --config_file accelerate.yaml train_dpo.py` (or `python train_dpo.py` on one GPU);
bring `output/` back with `isr-studio import-adapter`.

What it does as the studio does, and why it needs its own collator: TRL's vision collators take
images, these rows hold a video. The collator reads each video's frames at the times the studio
read them, renders nothing itself (the studio's rendering of the prompt, `prompt_text`, goes through
the model's processor, which expands the video placeholder), and ends each response with the token
the studio ends it with. The reference model is the round's policy: the base model with the adapter
disabled, which is what TRL does with a `peft_config` and no `ref_model`.
"""

import argparse
import hashlib
import json
import os
import sys
from importlib.metadata import version

import torch
from datasets import load_dataset
from packaging.version import Version
from peft import LoraConfig
from transformers import AutoModelForImageTextToText, AutoProcessor, TrainerCallback
from trl import DPOConfig, DPOTrainer

from isr_job import batch_layout, decoder_targets, job_arguments, load_job, read_frames, resolve_video


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    job_arguments(parser, __file__)
    parser.add_argument("--output-dir", help="where the adapter goes (default: the job's output/)")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"], help="the weights' dtype while training")
    parser.add_argument("--per-device-batch-size", type=int, help="pairs per process and update; the run's pairs per update are divided among the processes unless this is given")
    parser.add_argument("--num-workers", type=int, default=2, help="dataloader workers reading frames")
    parser.add_argument("--force", action="store_true", help="train a model whose config.json differs from the policy's the job was made for")
    return parser.parse_args()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class VideoPreferenceCollator:
    """Batches [chosen..., rejected...] as TRL's DPOTrainer takes them: input_ids, attention_mask,
    completion_mask and the processor's visual inputs, sequences flushed left and cut to max_length
    from the end (keep_start: the prompt with its video is never cut)."""

    def __init__(self, processor, job, job_dir, video_root):
        self.processor = processor
        self.job = job
        self.job_dir = job_dir
        self.video_root = video_root
        self.end = job["train"]["completion_end_token_id"]
        self.max_length = job["train"]["dpo_config"]["max_length"]
        tokenizer = processor.tokenizer
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def completion(self, row, side):
        text = row[side][0]["content"][0]["text"]
        return self.processor.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.end]

    def __call__(self, rows):
        frames = [read_frames(resolve_video(self.job_dir, r["video"], self.video_root), r["frame_times"]) for r in rows] * 2
        visual = {"videos": frames} if self.job["modality"] == "video" else {"images": [list(f) for f in frames]}
        prompts = self.processor(
            text=[r["prompt_text"] for r in rows] * 2, padding=True, padding_side="left", return_tensors="pt",
            add_special_tokens=False, **visual,
        )
        completions = [self.completion(r, "chosen") for r in rows] + [self.completion(r, "rejected") for r in rows]
        width = max(len(c) for c in completions)
        completion_ids = torch.tensor([c + [self.pad] * (width - len(c)) for c in completions])
        completion_mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for c in completions])
        input_ids = torch.cat([prompts["input_ids"], completion_ids], dim=1)
        attention = torch.cat([prompts["attention_mask"], completion_mask], dim=1)
        completion = torch.cat([torch.zeros_like(prompts["attention_mask"]), completion_mask], dim=1)
        # Flush left: each sequence starts at position 0, as the studio's do.
        for i in range(input_ids.size(0)):
            shift = int((attention[i] == 0).long().cumprod(0).sum())
            if shift:
                for t in (input_ids, attention, completion):
                    t[i] = torch.roll(t[i], -shift)
        keep = min(int(attention.sum(1).max()), self.max_length) if self.max_length else int(attention.sum(1).max())
        batch = dict(prompts)
        batch["input_ids"] = input_ids[:, :keep]
        batch["attention_mask"] = attention[:, :keep]
        batch["completion_mask"] = completion[:, :keep]
        return batch


class MetricsFile(TrainerCallback):
    """Every logged step under TRL's metric names, one JSON line each, for the studio's charts."""

    def __init__(self, path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        numbers = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **numbers}) + "\n")


def main():
    args = parse_args()
    job, job_dir, model_dir = load_job(args, "trl-job")
    train = job["train"]
    config_sha256 = sha256_file(os.path.join(model_dir, "config.json"))
    if config_sha256 != job["policy"]["config_sha256"] and not args.force:
        sys.exit(f"{model_dir}/config.json is not the config of the policy this job was made for (round {job['round']} of run {job['run']}); --force trains it anyway")
    output_dir = args.output_dir or os.path.join(job_dir, job["output_dir"])
    per_device, accumulation, pairs_per_update = batch_layout(train["pairs_per_update"], args.per_device_batch_size)

    dtype = getattr(torch, args.dtype)
    new_transformers = Version(version("transformers")) >= Version("5.0.0")
    # transformers >= 4.56 names the argument dtype (torch_dtype before).
    dtype_arg = {"dtype": dtype} if Version(version("transformers")) >= Version("4.56.0") else {"torch_dtype": dtype}
    model = AutoModelForImageTextToText.from_pretrained(model_dir, **dtype_arg)
    processor = AutoProcessor.from_pretrained(model_dir)

    # The run's LoRA settings under LoraConfig's names; the targets matched in the decoder only.
    peft_config = LoraConfig(**train["lora_config"], target_modules=decoder_targets([n for n, _ in model.named_modules()], train["lora_targets"]))
    # transformers 5 deprecates warmup_ratio for a fractional warmup_steps.
    warmup = {"warmup_steps": train["warmup_ratio"]} if new_transformers else {"warmup_ratio": train["warmup_ratio"]}
    # The run's DPO settings under DPOConfig's names, and how this machine runs them.
    config = DPOConfig(
        **train["dpo_config"],
        output_dir=output_dir,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        bf16=args.dtype == "bfloat16",
        fp16=args.dtype == "float16",
        # The collator reads video, frame_times and prompt_text: the trainer must pass whole rows.
        remove_unused_columns=False,
        dataloader_num_workers=args.num_workers,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        **warmup,
    )
    dataset = load_dataset("json", data_files=os.path.join(job_dir, job["dataset"]), split="train")
    # TRL takes a dataset with an "images" column as a vision dataset: it then leaves the rows to the
    # collator rather than tokenising them up front. These rows' visual input is the video.
    dataset = dataset.add_column("images", [[] for _ in range(len(dataset))])

    os.makedirs(output_dir, exist_ok=True)
    metrics = os.path.join(output_dir, "metrics.jsonl")
    if os.path.exists(metrics) and int(os.environ.get("RANK", "0")) == 0:
        os.remove(metrics)
    trainer = DPOTrainer(
        model=model,
        args=config,
        data_collator=VideoPreferenceCollator(processor, job, job_dir, args.video_root),
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[MetricsFile(metrics)],
    )
    trainer.train()
    trainer.save_model(output_dir)
    if trainer.is_world_process_zero():
        marker = {
            "run": job["run"],
            "round": job["round"],
            "policy_fingerprint": job["policy"]["fingerprint"],
            "policy_config_sha256": config_sha256,
            "model": os.path.abspath(model_dir),
            "pairs": len(dataset),
            "pairs_per_update": pairs_per_update,
            "processes": int(os.environ.get("WORLD_SIZE", "1")),
            "versions": {p: version(p) for p in ("torch", "transformers", "trl", "peft", "accelerate")},
        }
        with open(os.path.join(output_dir, "isr_studio.json"), "w", encoding="utf-8") as f:
            json.dump(marker, f, indent=2)
        print(f"adapter written to {output_dir}: bring it back with isr-studio import-adapter --run {job['run']} --round {job['round']} --adapter {output_dir}")


if __name__ == "__main__":
    main()
