"""What the scripts of an ISR Studio job share: reading job.json and the paths it names, and the
frames of a video read the way ISR Studio reads them (src/main/video/frames.ts).

Each frame is the first one at or after its time: ffmpeg's accurate input seek (-ss before -i),
one frame, decoded as rgb24 at the video's own size. The model's processor resizes it, as the
studio's preprocessing does. The times come from the job (`frame_times`), so the frames here are
the frames the studio sampled, judged and trained on.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np


def job_arguments(parser, script):
    """The options every job script takes: where job.json is, and where the policy and videos are
    when they are not where job.json says (a job exported with --no-copy-model / --no-copy-videos)."""
    here = os.path.dirname(os.path.abspath(script))
    parser.add_argument("--job", default=os.path.join(here, "job.json"), help="the job's settings (default: job.json beside this script)")
    parser.add_argument("--model", help="the round's policy folder, when it is not where job.json says")
    parser.add_argument("--video-root", help="OLD=NEW: videos named by absolute path under OLD are read under NEW")


def load_job(args, job_format):
    """job.json of a job of `job_format`, its folder, and the policy folder to load."""
    with open(args.job, encoding="utf-8") as f:
        job = json.load(f)
    if job.get("format") != job_format:
        sys.exit(f"{args.job} is not a {job_format} (format {job.get('format')!r})")
    job_dir = os.path.dirname(os.path.abspath(args.job))
    model = args.model or job["policy"]["path"]
    return job, job_dir, model if os.path.isabs(model) else os.path.join(job_dir, model)


def ffmpeg_binary():
    """FFMPEG_PATH, else ffmpeg on PATH (the studio's order, less its bundled copy)."""
    found = os.environ.get("FFMPEG_PATH") or shutil.which("ffmpeg")
    if not found:
        raise SystemExit("ffmpeg not found: put it on PATH or set FFMPEG_PATH")
    return found


_PPM_HEADER = re.compile(rb"^P6\s+(\d+)\s+(\d+)\s+(\d+)\s")


def frame_at(path, time_s, ffmpeg=None):
    """The frame at `time_s` seconds of `path` as a uint8 array [height, width, 3]."""
    args = [
        ffmpeg or ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin", "-threads", "1",
        "-ss", f"{time_s:.6f}", "-i", path,
        "-frames:v", "1", "-f", "image2pipe", "-c:v", "ppm", "-pix_fmt", "rgb24", "-",
    ]
    done = subprocess.run(args, capture_output=True, check=False)
    header = _PPM_HEADER.match(done.stdout[:64])
    if done.returncode != 0 or header is None:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["ffmpeg wrote no frame"]
        raise RuntimeError(f"could not read a frame at {time_s:.3f} s from {path}: {reason[0]}")
    width, height, maxval = (int(v) for v in header.groups())
    if maxval != 255:
        raise RuntimeError(f"{path}: ffmpeg wrote a PPM frame with maxval {maxval}, expected 255")
    pixels = np.frombuffer(done.stdout, dtype=np.uint8, count=width * height * 3, offset=len(header.group(0)))
    return pixels.reshape(height, width, 3)


def read_frames(path, times):
    """The frames at `times` (seconds), stacked [frames, height, width, 3]."""
    ffmpeg = ffmpeg_binary()
    return np.stack([frame_at(path, t, ffmpeg) for t in times])


def resolve_video(job_dir, video, video_root=None):
    """A video path of the job: relative ones are inside the job folder; `video_root` (OLD=NEW)
    moves absolute ones that were left where they were on the studio's machine."""
    if video_root:
        old, _, new = video_root.partition("=")
        if old and video.startswith(old):
            video = new + video[len(old):]
    return video if os.path.isabs(video) else os.path.join(job_dir, video)


def batch_layout(pairs, per_device=None, world=None):
    """Per-process batch, gradient accumulation and pairs per update for the run's `pairs` per
    update on `world` processes (WORLD_SIZE, as accelerate sets it): the run's pairs shared evenly,
    or `per_device` per process when given (then not the run's setting)."""
    world = world or int(os.environ.get("WORLD_SIZE", "1"))
    if per_device is not None:
        return per_device, 1, per_device * world
    if pairs % world != 0:
        sys.exit(
            f"the run trains {pairs} pair{'' if pairs == 1 else 's'} per update, which {world} processes cannot share evenly: "
            f"launch a number of processes that divides {pairs}, or pass --per-device-batch-size "
            f"(then each update sees that many pairs times {world}, which is not the run's setting)"
        )
    return pairs // world, 1, pairs


def decoder_targets(module_names, names):
    """PEFT's target_modules as a regex (PEFT matches it whole) selecting `names` in the language
    model's decoder layers only: the studio adapts the decoder, never the vision tower, whose layers
    share the names. The language model is the shortest module path ending in language_model or
    text_model, which covers both transformers layouts (language_model.model.layers... before 4.52,
    model.language_model.layers... after) and Idefics3's model.text_model.layers..."""
    roots = [n for n in module_names if n.rsplit(".", 1)[-1] in ("language_model", "text_model")]
    if not roots:
        sys.exit("found no language_model or text_model module in the model: is this the round's policy?")
    root = re.escape(min(roots, key=len))
    return rf"{root}\.(?:.*\.)?layers\.\d+\.(?:.*\.)?(?:{'|'.join(re.escape(n) for n in names)})"
