"""numpy BGR images → Kivy textures (card photo, page thumbnails, QR code, camera frames)."""

from __future__ import annotations

import numpy as np
from kivy.graphics.texture import Texture


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A contiguous uint8 BGR array with a width that is a multiple of 4 (GL row alignment)."""
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    image = image.astype(np.uint8, copy=False)
    width = image.shape[1] - image.shape[1] % 4
    if width == 0:
        raise ValueError("image too narrow to show")
    return np.ascontiguousarray(image[:, :width])


def blit(texture: Texture | None, image: np.ndarray) -> Texture:
    """Copy ``image`` into ``texture``, making a new one when the size changed; returns the texture."""
    image = as_bgr(image)
    h, w = image.shape[:2]
    if texture is None or texture.size != (w, h):
        texture = Texture.create(size=(w, h), colorfmt="bgr", bufferfmt="ubyte")
        texture.flip_vertical()  # numpy rows go top-down, GL rows bottom-up
    texture.blit_buffer(image.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
    return texture


def texture_from_bgr(image: np.ndarray) -> Texture:
    return blit(None, image)


def placeholder_photo(width: int = 102, height: int = 126) -> np.ndarray:
    """A grey ID-photo stand-in (head and shoulders silhouette) made in memory."""
    img = np.full((height, width, 3), 200, np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    head = ((xx - width / 2) / (width * 0.22)) ** 2 + ((yy - height * 0.38) / (height * 0.2)) ** 2 <= 1
    body = ((xx - width / 2) / (width * 0.45)) ** 2 + ((yy - height * 1.0) / (height * 0.35)) ** 2 <= 1
    img[head | body] = 150
    return img


def qr_image(text: str, box: int = 8) -> np.ndarray:
    """A black-on-white QR code as a BGR array."""
    import qrcode

    qr = qrcode.QRCode(border=2, box_size=box)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = np.array(qr.get_matrix(), dtype=bool)
    pixels = np.where(matrix, 0, 255).astype(np.uint8)
    pixels = np.kron(pixels, np.ones((box, box), np.uint8))
    return np.repeat(pixels[:, :, None], 3, axis=2)
