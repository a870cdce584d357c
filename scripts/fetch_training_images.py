#!/usr/bin/env python
"""Training images for the copy-detection descriptor, from image-rich Debian packages + synthetic ones.

    python scripts/fetch_training_images.py --out data/train --exclude-like data/photos --synthetic 400

`apt-get download`s each package into a cache, unpacks it, keeps raster images of at least 64 px a
side that are not flat, flattens transparency onto a plain colour, resizes the longer side to 256,
saves JPEG (quality 85), drops near-duplicates by perceptual hash among themselves and against every
image under each --exclude-like folder (the benchmark photo pool), and writes manifest.csv
(path, package, licence, source, phash). Reruns reuse the cache; the output folder is rebuilt.

Never lists the packages reserved for held-out evaluation (see NOTES.md) — a guard below refuses them.
The benchmark's photo sources (gcompris-qt-data photos, scratch backgrounds, lomiri wallpapers) are not
used either; stellarium-data photos that the benchmark pool also took are removed by --exclude-like.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import shutil
import subprocess
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

RESERVED = {
    "opencv-doc",
    "plasma-workspace-wallpapers",
    "mate-backgrounds",
    "lxqt-themes",
    "palapeli-data",
    "scribus-template",
    "tuxpaint-data",
    "gimp-data",
    "digikam-data",
    "imagemagick-6-doc",
}
# package → (regex a file's path must match, regex it must not match)
PACKAGES: dict[str, tuple[str, str]] = {
    "openclipart-png": (r"", r""),
    "tuxpaint-stamps-default": (r"", r""),
    "wesnoth-1.16-data": (r"", r"/(misc|icons|cursors)/"),
    "hedgewars-data": (r"", r""),
    "supertux-data": (r"", r""),
    "pingus-data": (r"", r""),
    "lincity-ng-data": (r"", r""),
    "freeciv-data": (r"", r""),
    "extremetuxracer-data": (r"", r""),
    "neverball-data": (r"", r""),
    "marble-data": (r"", r""),
    "frozen-bubble-data": (r"", r""),
    "stellarium-data": (r"", r""),
    "scratch": (r"/Costumes/", r"/Backgrounds/"),  # the backgrounds are benchmark photos
    "desktop-base": (r"", r""),
    "gnome-backgrounds": (r"", r""),
    "endless-sky-data": (r"", r""),
    "flare-game": (r"", r""),
    "freedroidrpg-data": (r"", r""),
    "ktuberling-data": (r"", r""),
    "pysiogame": (r"", r""),
    "teeworlds-data": (r"", r""),
    "tuxtype-data": (r"", r""),
}
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}
MIN_SIDE = 64


def run(cmd: list[str], cwd: Path | None = None) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def fetch(package: str, cache: Path) -> Path:
    """The unpacked package folder (downloaded and unpacked once)."""
    if package in RESERVED:
        raise SystemExit(f"{package} is reserved for held-out evaluation")
    debs, unpacked = cache / "debs", cache / "x" / package
    debs.mkdir(parents=True, exist_ok=True)
    if unpacked.is_dir() and (unpacked / ".done").exists():
        return unpacked
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        run(["apt-get", "download", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    shutil.rmtree(unpacked, ignore_errors=True)
    unpacked.mkdir(parents=True)
    run(["dpkg-deb", "-x", str(found[-1]), str(unpacked)])
    (unpacked / ".done").touch()
    return unpacked


KNOWN_LICENCES = {"openclipart-png": "public-domain (Open Clip Art Library)"}


def licence_of(package: str, unpacked: Path) -> str:
    if package in KNOWN_LICENCES:
        return KNOWN_LICENCES[package]
    copyright = unpacked / "usr" / "share" / "doc" / package / "copyright"
    if not copyright.is_file():
        return "see Debian package"
    names: list[str] = []
    for line in copyright.read_text(errors="replace").splitlines():
        if line.startswith("License:"):
            name = line.split(":", 1)[1].strip()
            if name and name not in names:
                names.append(name)
    return " / ".join(names[:4]) or f"see /usr/share/doc/{package}/copyright"


def flatten_colour(key: str) -> tuple[int, int, int]:
    h = zlib.crc32(key.encode()) % (1 << 24)
    return (255, 255, 255) if h % 3 else (h & 255, (h >> 8) & 255, (h >> 16) & 255)


def prepare(args: tuple[str, str, int, int]) -> tuple[bytes, np.ndarray] | None:
    """(JPEG bytes, 64-bit phash) of a usable image, or None."""
    path, key, max_side, quality = args
    import imagehash

    try:
        with Image.open(path) as im:
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            w, h = im.size
            if min(w, h) < MIN_SIDE or w * h > 40_000_000:
                return None
            im.draft("RGB", (max_side, max_side))
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "P", "PA") or "transparency" in im.info:
                im = im.convert("RGBA")
                alpha = np.asarray(im.getchannel("A"))
                if (alpha > 16).mean() < 0.15:  # mostly empty sprite
                    return None
                bg = Image.new("RGBA", im.size, flatten_colour(key) + (255,))
                im = Image.alpha_composite(bg, im)
            im = im.convert("RGB")
            scale = max_side / max(im.size)
            if scale < 1:
                im = im.resize(
                    (max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS
                )
            if min(im.size) < 32 or np.asarray(im.convert("L"), dtype=np.float32).std() < 8:
                return None  # flat
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=quality, optimize=True)
            bits = imagehash.phash(im).hash.flatten()
            return buf.getvalue(), np.packbits(bits).view(">u8")[0].astype(np.uint64)
    except Exception:
        return None


def photo_hashes(dirs: list[Path]) -> np.ndarray:
    import imagehash

    hashes = []
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.suffix.lower() in SUFFIXES:
                try:
                    with Image.open(p) as im:
                        im.draft("RGB", (256, 256))
                        bits = imagehash.phash(im.convert("RGB")).hash.flatten()
                    hashes.append(np.packbits(bits).view(">u8")[0].astype(np.uint64))
                except Exception:
                    continue
    return np.array(hashes, dtype=np.uint64)


def synthetic(i: int, rng: random.Random, size: int = 256) -> Image.Image:
    """Shapes, patterns, gradients and text, so that some training images look like nothing else."""
    w, h = size, rng.choice([size, int(size * 0.75), int(size * 0.6)])
    if rng.random() < 0.5:
        w, h = h, w
    kind = i % 4
    c1 = tuple(rng.randrange(256) for _ in range(3))
    c2 = tuple(rng.randrange(256) for _ in range(3))
    if kind == 0:  # gradient
        t = np.linspace(0, 1, w)[None, :, None] if rng.random() < 0.5 else np.linspace(0, 1, h)[:, None, None]
        arr = (np.array(c1) * (1 - t) + np.array(c2) * t) * np.ones((h, w, 1))
        im = Image.fromarray(arr.astype(np.uint8))
    elif kind == 1:  # stripes / checks
        yy, xx = np.mgrid[0:h, 0:w]
        period = rng.randint(6, 40)
        angle = rng.random() * np.pi
        v = ((xx * np.cos(angle) + yy * np.sin(angle)) // period).astype(int) % 2
        if rng.random() < 0.4:
            v = v ^ ((xx * np.sin(angle) - yy * np.cos(angle)) // period).astype(int) % 2
        arr = np.where(v[..., None] == 1, np.array(c1), np.array(c2))
        im = Image.fromarray(arr.astype(np.uint8))
    else:
        im = Image.new("RGB", (w, h), c1)
    draw = ImageDraw.Draw(im)
    for _ in range(rng.randint(3, 12)):
        colour = tuple(rng.randrange(256) for _ in range(3))
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randint(10, w // 2), y0 + rng.randint(10, h // 2)
        shape = rng.choice(["ellipse", "rectangle", "polygon", "line"])
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == "polygon":
            draw.polygon([(rng.randrange(w), rng.randrange(h)) for _ in range(rng.randint(3, 7))], fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(2, 10))
    if kind == 3 or rng.random() < 0.3:
        words = ["SALE", "copy", "ISC", "hello", "2026", "meme", "Lorem ipsum", "déjà vu", "#42", "OK!"]
        font = ImageFont.load_default(size=rng.randint(14, 48))
        for _ in range(rng.randint(1, 4)):
            draw.text(
                (rng.randrange(w // 2), rng.randrange(h - 20)),
                rng.choice(words),
                fill=tuple(rng.randrange(256) for _ in range(3)),
                font=font,
            )
    if rng.random() < 0.3:
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2)))
    return im


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/train"))
    parser.add_argument("--cache", type=Path, default=Path("data/.cache/train"))
    parser.add_argument("--packages", nargs="*", default=list(PACKAGES), help="subset of the known packages")
    parser.add_argument("--exclude-like", type=Path, nargs="*", default=[], help="drop images that look like these")
    parser.add_argument("--synthetic", type=int, default=400)
    parser.add_argument("--per-package", type=int, default=500, help="at most this many images per package")
    parser.add_argument("--max-side", type=int, default=256)
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--threshold", type=int, default=8, help="phash Hamming distance counted as a duplicate")
    parser.add_argument("--exclude-threshold", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    candidates: list[tuple[str, str, Path, str]] = []  # package, licence, file, relative source
    for package in args.packages:
        include, exclude = PACKAGES.get(package, ("", ""))
        try:
            unpacked = fetch(package, args.cache)
        except (subprocess.CalledProcessError, IndexError) as exc:
            print(f"{package}: not fetched ({exc})", file=sys.stderr)
            continue
        licence = licence_of(package, unpacked)
        files = [
            p
            for p in sorted(unpacked.rglob("*"))
            if p.suffix.lower() in SUFFIXES
            and p.is_file()
            and (not include or re.search(include, "/" + str(p.relative_to(unpacked))))
            and not (exclude and re.search(exclude, "/" + str(p.relative_to(unpacked))))
        ]
        rng.shuffle(files)
        files = files[: args.per_package * 2]  # decode only a sample of big packages
        candidates += [(package, licence, p, str(p.relative_to(unpacked))) for p in files]
        print(f"{package}: {len(files)} candidate files ({licence})", flush=True)

    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        prepared = list(
            pool.map(prepare, [(str(c[2]), c[3], args.max_side, args.quality) for c in candidates], chunksize=32)
        )

    excluded_hashes = photo_hashes(args.exclude_like) if args.exclude_like else np.zeros(0, np.uint64)
    print(f"{len(excluded_hashes)} photos to stay away from", flush=True)

    order = list(range(len(candidates)))
    rng.shuffle(order)
    kept_hashes = np.zeros(len(candidates) + args.synthetic, dtype=np.uint64)
    n_kept = 0
    per_package: dict[str, int] = {}
    dropped = {"unusable": 0, "duplicate": 0, "like_excluded": 0, "cap": 0}
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    rows = []
    for i in order:
        package, licence, _, source = candidates[i]
        item = prepared[i]
        if item is None:
            dropped["unusable"] += 1
            continue
        if per_package.get(package, 0) >= args.per_package:
            dropped["cap"] += 1
            continue
        data, h = item
        if len(excluded_hashes) and int(np.bitwise_count(excluded_hashes ^ h).min()) <= args.exclude_threshold:
            dropped["like_excluded"] += 1
            continue
        if n_kept and int(np.bitwise_count(kept_hashes[:n_kept] ^ h).min()) <= args.threshold:
            dropped["duplicate"] += 1
            continue
        kept_hashes[n_kept] = h
        n_kept += 1
        per_package[package] = per_package.get(package, 0) + 1
        rel = Path(package) / f"{package}-{per_package[package]:05d}.jpg"
        (args.out / rel).parent.mkdir(exist_ok=True)
        (args.out / rel).write_bytes(data)
        rows.append({"path": str(rel), "package": package, "licence": licence, "source": source, "phash": f"{h:016x}"})

    import imagehash

    (args.out / "synthetic").mkdir(exist_ok=True)
    made = 0
    for i in range(args.synthetic):
        im = synthetic(i, rng, args.max_side)
        h = np.packbits(imagehash.phash(im).hash.flatten()).view(">u8")[0].astype(np.uint64)
        if n_kept and int(np.bitwise_count(kept_hashes[:n_kept] ^ h).min()) <= args.threshold:
            continue
        kept_hashes[n_kept] = h
        n_kept += 1
        made += 1
        rel = Path("synthetic") / f"synthetic-{made:05d}.jpg"
        im.save(args.out / rel, "JPEG", quality=args.quality, optimize=True)
        rows.append(
            {
                "path": str(rel),
                "package": "synthetic",
                "licence": "CC0-1.0 (generated by this script)",
                "source": f"seed {args.seed} #{i}",
                "phash": f"{h:016x}",
            }
        )
    per_package["synthetic"] = made

    with open(args.out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "package", "licence", "source", "phash"])
        writer.writeheader()
        writer.writerows(rows)
    total = sum(f.stat().st_size for f in args.out.rglob("*.jpg"))
    for package, n in sorted(per_package.items(), key=lambda kv: -kv[1]):
        print(f"{n:6d}  {package}")
    print(f"total: {len(rows)} images, {total / 2**20:.1f} MiB in {args.out} (dropped: {dropped})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
