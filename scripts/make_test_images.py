"""Render the project's own test images with known text (deterministic; run by `make images`).

Each image ``NAME.EXT`` gets ``NAME.gt.txt`` with its ground truth (empty for the blank page,
absent for the file that is not an image).
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = Path(__file__).resolve().parent.parent / "test_images"

HELLO = ["Hello World", "Optical character recognition", "works on this page"]
RECEIPT = ["CORNER CAFE", "Espresso 2.50", "Croissant 3.20", "TOTAL 5.70", "Thank you"]
INVOICE = ["INVOICE 2048", "Due date March 14", "Amount due 1250 EUR"]
PHOTO = ["Meeting at noon", "Room 42 second floor"]
ROTATED = ["Rotated by the camera", "EXIF says turn me"]
#: A note photographed with a phone: the README's "Try it" image (over 1 MB, as photos are).
PHONE = [
    "Dear Ana,",
    "The printer on the second floor",
    "is fixed. Invoices go out Friday.",
    "Call me at 555 0142 if it jams.",
    "Thanks, Marco",
]
CONTRACT = [
    ["SERVICE AGREEMENT", "Page 1 of 3", "The parties agree as follows"],
    ["Payment terms", "Page 2 of 3", "Invoices are due in 30 days"],
    ["Signatures", "Page 3 of 3", "Signed in Lisbon"],
]


def render(
    lines: list[str], size: int = 44, pad: int = 40, fg: int = 20, bg: int = 255
) -> Image.Image:
    font = ImageFont.load_default(size=size)
    widths = [font.getbbox(line)[2] for line in lines]
    line_h = int(size * 1.5)
    im = Image.new("L", (max(widths) + 2 * pad, line_h * len(lines) + 2 * pad), bg)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_h), line, fill=fg, font=font)
    return im


def photo_like(lines: list[str]) -> Image.Image:
    """Grey paper, uneven light, a slight tilt, blur and sensor noise: a phone snapshot."""
    rng = random.Random(7)
    page = render(lines, size=48, fg=45, bg=225).convert("RGB")
    page = page.rotate(
        2.5, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(200, 196, 188)
    )
    w, h = page.size
    light = Image.linear_gradient("L").resize((w, h)).point(lambda v: 200 + v // 5)
    page = Image.composite(page, Image.new("RGB", (w, h), (150, 145, 140)), light)
    page = page.filter(ImageFilter.GaussianBlur(1.1))
    px = page.load()
    for _ in range(w * h // 12):
        x, y = rng.randrange(w), rng.randrange(h)
        n = rng.randint(-40, 40)
        r, g, b = px[x, y]
        px[x, y] = (max(0, min(255, r + n)), max(0, min(255, g + n)), max(0, min(255, b + n)))
    return page


def phone_photo(lines: list[str]) -> Image.Image:
    """A 12-megapixel phone snapshot of a note: a tilted sheet on a desk, light falling off
    to one corner, lens blur and sensor noise, saved as phones do (about 2 MB)."""
    import numpy as np

    sheet = render(lines, size=150, pad=220, fg=40, bg=236).convert("RGB")
    desk = Image.new("RGB", (4032, 3024), (122, 104, 86))
    mask = Image.new("L", sheet.size, 255).rotate(-3, expand=True)
    sheet = sheet.rotate(-3, resample=Image.Resampling.BICUBIC, expand=True)
    desk.paste(sheet, ((4032 - sheet.width) // 2, (3024 - sheet.height) // 2), mask)
    rng = np.random.default_rng(12)
    pixels = np.asarray(desk.filter(ImageFilter.GaussianBlur(1.6)), dtype=np.float32)
    ys, xs = np.mgrid[0:3024, 0:4032]
    light = 1.08 - 0.35 * ((xs / 4032) ** 2 + (ys / 3024) ** 2) / 2
    pixels = pixels * light[..., None] + rng.normal(0, 7, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def save_gt(name: str, lines: list[str]) -> None:
    (OUT / f"{name}.gt.txt").write_text("\n".join(lines) + ("\n" if lines else ""))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    render(HELLO).convert("RGB").save(OUT / "hello.jpg", quality=90)
    save_gt("hello", HELLO)

    render(RECEIPT, size=36).save(OUT / "receipt.png")
    save_gt("receipt", RECEIPT)

    render(INVOICE).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        OUT / "invoice.gif"
    )
    save_gt("invoice", INVOICE)

    # Pixels stored sideways with EXIF orientation 6 ("rotate 90 CW to view"), as phones do.
    upright = render(ROTATED).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(OUT / "rotated_exif.jpg", quality=90, exif=exif)
    save_gt("rotated_exif", ROTATED)

    photo_like(PHOTO).save(OUT / "noisy_photo.jpg", quality=80)
    save_gt("noisy_photo", PHOTO)

    phone_photo(PHONE).save(OUT / "phone_photo.jpg", quality=88)
    save_gt("phone_photo", PHONE)

    Image.new("RGB", (640, 480), (255, 255, 255)).save(OUT / "blank.png")
    save_gt("blank", [])

    (OUT / "not_an_image.jpg").write_text("This is a plain text file with a .jpg name.\n")
    documents()


def documents() -> None:
    """A scanned three-page contract: an image-only PDF (no text layer). Its ground truth
    separates pages with a form feed, as the document result's text does."""
    pages = [render(lines).convert("RGB") for lines in CONTRACT]
    # At 300 DPI PDFium renders each page back at the image's own size.
    pages[0].save(OUT / "contract.pdf", save_all=True, append_images=pages[1:], resolution=300)
    (OUT / "contract.gt.txt").write_text("\f".join("\n".join(p) for p in CONTRACT) + "\n")


if __name__ == "__main__":
    main()
