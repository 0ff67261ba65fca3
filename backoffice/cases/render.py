"""Scans as page images: a PDF page rendered by PDFium (pypdfium2, no system libraries), an image
scaled with Pillow. The case page shows one page at a time at the zoom the clerk picks."""

from __future__ import annotations

import io

from PIL import Image

ZOOMS = (1, 2, 3, 4)
BASE_WIDTH = 700  # pixels at zoom 1: readable on an office screen without scrolling sideways


def page_count(data: bytes, content_type: str) -> int:
    if content_type != "application/pdf":
        return 1
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return 0
    try:
        return len(pdf)
    finally:
        pdf.close()


def page_png(data: bytes, content_type: str, page_index: int, zoom: int) -> bytes:
    """PNG of one page, ``BASE_WIDTH * zoom`` pixels wide."""
    width = BASE_WIDTH * max(1, min(zoom, ZOOMS[-1]))
    if content_type == "application/pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(data)
        try:
            page = pdf[page_index]
            scale = width / page.get_width()
            image = page.render(scale=scale).to_pil()
            page.close()
        finally:
            pdf.close()
    else:
        image = Image.open(io.BytesIO(data))
        image.load()
    if image.width != width:  # PDFium rounds the scaled size; the page must be exactly as wide as asked
        image = image.resize((width, max(1, round(image.height * width / image.width))))
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG", optimize=False, compress_level=3)
    return out.getvalue()
