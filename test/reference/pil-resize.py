#!/usr/bin/python3
"""Golden values for src/main/engine/model/resize.spec.ts and preprocess.spec.ts, computed with
Pillow and numpy: PIL's Image.resize on deterministic rgb24 images, and the slow transformers image
processors' frame pipeline (PIL resizes, then rescale and normalise in numpy) written out from
transformers' code. The specs read the JSON this writes; CI has no Pillow.

Rerun (Debian's Python, which has Pillow 9.4 and numpy; not the pyenv python3 on PATH):
    /usr/bin/python3 test/reference/pil-resize.py > test/reference/pil-resize.json
"""
import hashlib
import json
import sys

import numpy as np
import PIL
from PIL import Image

SAMPLES = 256  # values kept per output, at evenly spaced flat indices (both sides compute them)


def noise(x, y, c, seed):
    # uint64 arithmetic wraps mod 2**64, a multiple of the 2**32 kept.
    u = np.uint64
    m = u(0xFFFFFFFF)
    h = (x * u(374761393) + y * u(668265263) + c * u(2246822519) + seed * u(3266489917)) & m
    h = ((h ^ (h >> u(15))) * u(2246822519)) & m
    h = ((h ^ (h >> u(13))) * u(3266489917)) & m
    return (h ^ (h >> u(16))) & u(255)


def source(kind, width, height, seed):
    """Noise, or a blend of three gradients with noise (edges and flat runs both matter)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.uint64), np.arange(height, dtype=np.uint64))
    out = np.zeros((height, width, 3), dtype=np.uint8)
    for c in range(3):
        n = noise(xs, ys, np.uint64(c), np.uint64(seed)).astype(np.int64)
        if kind == "noise":
            out[:, :, c] = n
            continue
        x, y = xs.astype(np.int64), ys.astype(np.int64)
        smooth = [x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) * 255 // max(1, width + height - 2)][c]
        out[:, :, c] = (3 * smooth + n) >> 2
    return out


def samples(flat):
    n = flat.size
    return [flat[(k * (n - 1)) // (SAMPLES - 1)].item() for k in range(SAMPLES)]


def sha(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


# transformers models/idefics3/image_processing_idefics3.py (and SmolVLM's): the longest edge to
# max_len keeping the aspect ratio, the other edge truncated and made even, then capped at 4096.
def longest_edge_size(height, width, max_len):
    aspect = width / height
    if width >= height:
        width = max_len
        height = int(width / aspect)
        if height % 2 != 0:
            height += 1
    elif height > width:
        height = max_len
        width = int(height * aspect)
        if width % 2 != 0:
            width += 1
    height, width = max(height, 1), max(width, 1)
    aspect = width / height
    if width >= height and width > 4096:
        width = 4096
        height = int(width / aspect)
    elif height > width and height > 4096:
        height = 4096
        width = int(height * aspect)
    return max(height, 1), max(width, 1)


def pipeline(image, config):
    """A video frame through the processor that `config` describes, without image splitting."""
    kind = config["image_processor_type"]
    idefics = kind in ("Idefics3ImageProcessor", "SmolVLMImageProcessor")
    resample = config.get("resample", Image.Resampling.LANCZOS if idefics else Image.Resampling.BICUBIC)
    sizes = []
    pil = Image.fromarray(image)
    if idefics:
        edge = config.get("video_sampling", {}).get("video_size", config["size"])["longest_edge"]
        h, w = longest_edge_size(pil.height, pil.width, edge)
        pil = pil.resize((w, h), resample=resample)
        sizes.append([w, h])
        side = config["max_image_size"]["longest_edge"]
        pil = pil.resize((side, side), resample=resample)
        sizes.append([side, side])
    else:
        pil = pil.resize((config["size"]["width"], config["size"]["height"]), resample=resample)
        sizes.append([pil.width, pil.height])
    resized = np.array(pil)
    # image_transforms.rescale: float64 product cast to float32; normalize: in float32.
    values = (resized.astype(np.float64) * config.get("rescale_factor", 1 / 255)).astype(np.float32)
    values = (values - np.array(config["image_mean"], dtype=np.float32)) / np.array(config["image_std"], dtype=np.float32)
    values = values.transpose(2, 0, 1)
    return {"sizes": sizes, "resizedSha256": sha(resized), "shape": list(values.shape), "samples": samples(values.reshape(-1))}


def main():
    resize_cases = []
    small = ("noise", 37, 23, 1)
    for resample in range(6):
        resize_cases.append((small, 16, 16, resample))
        resize_cases.append((small, 100, 61, resample))
    resize_cases += [
        (("blend", 37, 23, 2), 37, 40, Image.Resampling.BICUBIC),
        (("blend", 37, 23, 2), 50, 23, Image.Resampling.LANCZOS),
        (("blend", 37, 23, 2), 37, 23, Image.Resampling.BICUBIC),
        (("blend", 320, 240, 3), 384, 384, Image.Resampling.BICUBIC),
        (("blend", 320, 240, 3), 384, 384, Image.Resampling.BILINEAR),
        (("blend", 1280, 720, 4), 384, 384, Image.Resampling.BICUBIC),
        (("blend", 1280, 720, 4), 512, 288, Image.Resampling.LANCZOS),
        (("noise", 1280, 720, 5), 384, 384, Image.Resampling.LANCZOS),
        (("noise", 1280, 720, 5), 384, 384, Image.Resampling.NEAREST),
    ]
    resize = []
    for src, width, height, resample in resize_cases:
        out = np.array(Image.fromarray(source(*src)).resize((width, height), resample=resample))
        resize.append({
            "source": dict(zip(("kind", "width", "height", "seed"), src)),
            "width": width, "height": height, "resample": int(resample),
            "sha256": sha(out), "samples": samples(out.reshape(-1)),
        })

    half = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "rescale_factor": 1 / 255}
    pipeline_cases = [
        (("blend", 1280, 720, 4), {"image_processor_type": "LlavaOnevisionImageProcessor", "size": {"height": 384, "width": 384}, "resample": 3, **half}),
        # No `resample`: the processor's default (BICUBIC); CLIP's mean and std.
        (("blend", 320, 240, 3), {"image_processor_type": "LlavaOnevisionImageProcessor", "size": {"height": 384, "width": 384},
                                  "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}),
        (("blend", 1280, 720, 4), {"image_processor_type": "SmolVLMImageProcessor", "do_image_splitting": True, "size": {"longest_edge": 2048},
                                   "max_image_size": {"longest_edge": 512}, "video_sampling": {"fps": 1, "max_frames": 64, "video_size": {"longest_edge": 512}},
                                   "resample": 1, **half}),
        # No `resample`: LANCZOS; a portrait frame upscaled to size.longest_edge first.
        (("blend", 240, 320, 6), {"image_processor_type": "Idefics3ImageProcessor", "do_image_splitting": False, "size": {"longest_edge": 1456},
                                  "max_image_size": {"longest_edge": 364}, **half}),
        # The short edge truncates to an odd 97 and is made even.
        (("noise", 123, 457, 7), {"image_processor_type": "Idefics3ImageProcessor", "size": {"longest_edge": 364},
                                  "max_image_size": {"longest_edge": 364}, "resample": 3, **half}),
    ]
    pipelines = []
    for src, config in pipeline_cases:
        pipelines.append({"source": dict(zip(("kind", "width", "height", "seed"), src)), "config": config, **pipeline(source(*src), config)})

    json.dump({"pillow": PIL.__version__, "numpy": np.__version__, "samples": SAMPLES, "resize": resize, "pipelines": pipelines}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
