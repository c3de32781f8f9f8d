"""Pages rendered in headless Chromium (as Debian packages it: apt-get install -y chromium)."""

import shutil
import subprocess
from pathlib import Path

from PIL import Image

from tests.pipeline import require

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, shot: Path, size: tuple[int, int]) -> Image.Image:
    """The page rendered at size (width, height), loaded from the PNG Chromium wrote."""
    require(CHROMIUM is not None, "needs Chromium: apt-get install -y chromium")
    profile = shot.parent / f"{shot.stem}-profile"
    proc = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
            "--hide-scrollbars", f"--window-size={size[0]},{size[1]}", f"--screenshot={shot}", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.exists(), proc.stderr[-2000:]
    with Image.open(shot) as image:
        image.load()
        return image.copy()


def has_colour(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 6, at_least: int = 50) -> bool:
    colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    near = sum(n for n, c in colours if all(abs(a - b) <= tolerance for a, b in zip(c, rgb, strict=True)))
    return near >= at_least
