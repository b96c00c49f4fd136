"""Image-caption pairs from local files: a saved Hugging Face dataset, Parquet, or a folder.

Three layouts are read, all offline and without the ``datasets`` library:

- a folder written by ``datasets.Dataset.save_to_disk`` (``data-*.arrow`` Arrow IPC streams,
  listed in ``state.json``; a ``DatasetDict`` folder picks ``split``, "train" by default), or a
  single ``.arrow`` file;
- Parquet: one ``.parquet`` file, or a folder of them (a Hugging Face Hub snapshot);
- a folder of images with a captions file: ``captions.csv`` (columns ``image`` and ``text``,
  ``image`` a path relative to the folder), ``captions.jsonl`` (one ``{"image": ..., "text":
  ...}`` object per line), or ``captions.txt`` (one caption per line, paired with the image files
  of the folder in file-name order).

In the tables, the ``image`` column holds the Hugging Face ``Image`` struct ``{bytes, path}``,
raw bytes, or a path; the ``text`` column holds a string or a list of strings (the Platonic
Representation Hypothesis set stores several captions per image; ``caption_index`` picks one).
An image that cannot be decoded is named and either fails the load or is left out with its
caption (``on_bad_image="skip"``). A path inside a data file (an image in a captions file or a
table, a data file in ``state.json``, a split in ``dataset_dict.json``) must be relative and
stay inside the data folder: ``../outside.png`` or ``/etc/x.png`` is refused with the entry
named, so a data file cannot make alignlab read files elsewhere. A captions file that is not
UTF-8, holds invalid JSON or is empty, and a Parquet or Arrow file that cannot be read, are named
errors.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from PIL import Image

BadImage = Literal["fail", "skip"]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
CAPTION_FILES = ("captions.csv", "captions.jsonl", "captions.txt")


@dataclass(frozen=True)
class ImageTextPairs:
    """Decoded image-caption pairs in a fixed order.

    Attributes:
        images: RGB images, one per pair.
        captions: the caption of each image.
        ids: a stable name per pair (the row number of a table, the file name in a folder);
            perturbations are seeded by it.
        fingerprint: hash of every kept pair's id, raw image bytes and caption (16 hex).
        skipped: ``"name: reason"`` of each pair left out for an undecodable image.
        source: where the pairs were read from.
    """

    images: list[Image.Image]
    captions: list[str]
    ids: list[str]
    fingerprint: str
    skipped: tuple[str, ...] = ()
    source: str = ""

    def __len__(self) -> int:
        return len(self.captions)


def load_image_text(
    path: str | Path,
    *,
    image_column: str = "image",
    text_column: str = "text",
    caption_index: int = 0,
    on_bad_image: BadImage = "fail",
    limit: int | None = None,
    split: str | None = None,
) -> ImageTextPairs:
    """Read image-caption pairs from a local dataset folder, Parquet file or image folder.

    Args:
        path: a ``save_to_disk`` folder, an ``.arrow`` or ``.parquet`` file, a folder of
            Parquet files, or a folder of images with a captions file (see the module doc).
        image_column, text_column: column names in tables (and in ``captions.csv/.jsonl``).
        caption_index: which caption to take where the text column holds a list.
        on_bad_image: ``"fail"`` raises on the first image that cannot be decoded; ``"skip"``
            leaves that pair out and records it in ``skipped``.
        limit: keep only the first ``limit`` pairs (after skipping).
        split: the split of a ``DatasetDict`` folder or of split-named Parquet files.

    Returns:
        :class:`ImageTextPairs` of length ``n``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown layout, a missing column, captions and images of different
            counts, an undecodable image with ``on_bad_image="fail"``, or no pairs at all.
    """
    if on_bad_image not in ("fail", "skip"):
        raise ValueError(f"on_bad_image must be 'fail' or 'skip'; got {on_bad_image!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None; got {limit}")
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"image-caption data {root} does not exist")
    columns = (image_column, text_column)
    items = _items(root, columns, caption_index, split)
    images, captions, ids, skipped = [], [], [], []
    digest = hashlib.sha256()
    for item_id, name, raw, caption in items:
        try:
            image = _decode(raw, name)
        except ValueError as exc:
            if on_bad_image == "fail":
                raise ValueError(
                    f"{exc}; fix or remove it, or skip such pairs with on_bad_image='skip' "
                    "(--on-bad-image skip)"
                ) from None
            skipped.append(str(exc))
            continue
        images.append(image)
        captions.append(caption)
        ids.append(item_id)
        for part in (item_id, hashlib.sha256(raw or b"").hexdigest(), caption):
            digest.update(part.encode() + b"\0")
        if limit is not None and len(images) == limit:
            break
    if not images:
        raise ValueError(f"{root}: no image-caption pairs could be read ({len(skipped)} skipped)")
    return ImageTextPairs(images, captions, ids, digest.hexdigest()[:16], tuple(skipped), str(root))


Item = tuple[str, str, bytes | None, str]  # (id, name for messages, raw image bytes, caption)


def _items(root: Path, columns: tuple[str, str], caption_index: int, split: str | None):
    if root.is_file():
        if root.suffix == ".parquet":
            return _table_items(_read_parquet([root], columns), root, columns, caption_index)
        if root.suffix == ".arrow":
            return _table_items(_read_arrow([root], columns), root, columns, caption_index)
        raise ValueError(f"{root}: expected a .parquet or .arrow file, or a folder")
    if (root / "dataset_dict.json").is_file():
        splits = json.loads((root / "dataset_dict.json").read_text()).get("splits", [])
        chosen = split or ("train" if "train" in splits or len(splits) != 1 else splits[0])
        if chosen not in splits:
            raise ValueError(f"{root}: no split {chosen!r}; it has {', '.join(splits)}")
        folder = inside(root, chosen, f"{root / 'dataset_dict.json'} split")
        return _items(folder, columns, caption_index, None)
    arrows = _arrow_files(root)
    if arrows:
        return _table_items(_read_arrow(arrows, columns), root, columns, caption_index)
    for name in CAPTION_FILES:
        if (root / name).is_file():
            return _folder_items(root, root / name, columns)
    parquets = sorted(root.rglob("*.parquet"))
    if split is not None:
        parquets = [p for p in parquets if p.name.startswith(split) or split in p.parts]
    if parquets:
        return _table_items(_read_parquet(parquets, columns), root, columns, caption_index)
    raise ValueError(
        f"{root} holds no image-caption data: expected a save_to_disk folder (data-*.arrow), "
        f"Parquet files, or images with one of {', '.join(CAPTION_FILES)}"
    )


def _arrow_files(root: Path) -> list[Path]:
    state = root / "state.json"
    if state.is_file():
        files = json.loads(state.read_text()).get("_data_files", [])
        return [inside(root, f["filename"], f"{state} data file") for f in files]
    return sorted(root.glob("data-*.arrow"))


def _select(table, columns: tuple[str, str], where: Path):
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(
            f"{where}: no column(s) {', '.join(missing)}; it has {', '.join(table.column_names)} "
            "(choose others with image_column / text_column)"
        )
    return table.select(list(columns))


def _read_arrow(files: list[Path], columns: tuple[str, str]):
    import pyarrow as pa

    tables = []
    for f in files:
        source = pa.memory_map(str(f))  # left open: the table's buffers live in the map
        try:
            try:
                table = pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:  # an Arrow IPC file rather than a stream
                table = pa.ipc.open_file(source).read_all()
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"{f} is not a readable Arrow file (truncated or another format: "
                f"{' '.join(str(exc).split())[:160]})"
            ) from None
        tables.append(_select(table, columns, f))
    return pa.concat_tables(tables)


def _read_parquet(files: list[Path], columns: tuple[str, str]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for f in files:
        try:
            table = pq.read_table(f)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise ValueError(
                f"{f} is not a readable Parquet file (truncated or another format: "
                f"{' '.join(str(exc).split())[:160]})"
            ) from None
        tables.append(_select(table, columns, f))
    return pa.concat_tables(tables)


def _table_items(table, root: Path, columns: tuple[str, str], caption_index: int) -> Iterator[Item]:
    base = root if root.is_dir() else root.parent
    images, texts = (table.column(c) for c in columns)
    for i in range(table.num_rows):
        value, text = images[i].as_py(), texts[i].as_py()
        name = f"row {i} of {root}"
        raw = None
        if isinstance(value, dict):
            raw = value.get("bytes")
            if raw is None and value.get("path"):
                name += f" ({value['path']})"
                raw = _read_file(inside(base, value["path"], name))
        elif isinstance(value, bytes | bytearray):
            raw = bytes(value)
        elif isinstance(value, str):
            name += f" ({value})"
            raw = _read_file(inside(base, value, name))
        yield str(i), name, raw, _caption(text, caption_index, name)


def _caption(text: Any, index: int, name: str) -> str:
    if isinstance(text, list):
        if not -len(text) <= index < len(text):
            raise ValueError(
                f"{name} has {len(text)} caption(s); caption_index {index} is past them"
            )
        text = text[index]
    if text is None:
        raise ValueError(f"{name} has no caption")
    return str(text)


def inside(root: Path, entry: str, where: str) -> Path:
    """``root / entry`` for a relative path ``entry`` that stays inside ``root``; a ValueError
    naming ``where`` and the entry otherwise (absolute, or leaving the folder with ``..``).

    The check is on the path as written (symbolic links inside the folder, as in a Hugging Face
    snapshot, are followed as usual).

    >>> inside(Path("/data"), "img/0.png", "row 0").as_posix()
    '/data/img/0.png'
    >>> inside(Path("/data"), "../secret.png", "row 1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: row 1: path '../secret.png' points outside the data folder /data; ...
    """
    text = str(entry).replace("\\", "/")
    if PurePosixPath(text).is_absolute() or Path(entry).is_absolute() or ":" in text[:3]:
        raise ValueError(
            f"{where}: path {entry!r} is absolute; paths in a data file must be relative "
            f"to its folder {root}"
        )
    norm = posixpath.normpath(text)
    if norm == ".." or norm.startswith("../"):
        raise ValueError(
            f"{where}: path {entry!r} points outside the data folder {root}; paths in a "
            "data file must stay inside its folder"
        )
    return root / norm


def _read_file(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _folder_items(root: Path, captions: Path, columns: tuple[str, str]) -> list[Item]:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if captions.stat().st_size == 0:
        raise ValueError(f"{captions} is empty; it needs one caption per image")
    if captions.suffix == ".txt":
        lines = _text(captions).split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        if len(lines) != len(files):
            raise ValueError(
                f"{root}: {len(files)} image file(s) but {captions.name} has {len(lines)} "
                "caption line(s); it needs one line per image, in file-name order"
            )
        pairs = [(f.relative_to(root).as_posix(), t) for f, t in zip(files, lines, strict=True)]
    else:
        pairs = _listed_pairs(captions, columns)
        for i, (image, _) in enumerate(pairs):
            inside(root, image, f"{captions} entry {i + 1}")
        listed = {(root / image).resolve() for image, _ in pairs}
        unlisted = [f.relative_to(root).as_posix() for f in files if f.resolve() not in listed]
        if unlisted or len(listed) != len(pairs):
            raise ValueError(
                f"{root}: {len(files)} image file(s) but {captions.name} lists {len(pairs)} "
                f"caption(s) for {len(listed)} distinct image(s); not listed: "
                f"{', '.join(unlisted[:5]) or 'none'}{' ...' if len(unlisted) > 5 else ''}. "
                "List every image exactly once, or move the others out of the folder."
            )
    return [(image, str(root / image), _read_file(root / image), text) for image, text in pairs]


def _listed_pairs(captions: Path, columns: tuple[str, str]) -> list[tuple[str, str]]:
    text = _text(captions)
    if captions.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(
                    f"{captions} line {number} is not valid JSON ({exc.msg}, column "
                    f"{exc.colno}); write one {{\"image\": ..., \"text\": ...}} object per line"
                ) from None
            if not isinstance(rows[-1], dict):
                raise ValueError(f"{captions} line {number} is not a JSON object")
    pairs = []
    for i, row in enumerate(rows):
        if not all(isinstance(row.get(c), str) for c in columns):
            raise ValueError(
                f"{captions} entry {i + 1} needs string fields {' and '.join(columns)}; got {row!r}"
            )
        pairs.append((row[columns[0]], row[columns[1]]))
    return pairs


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None


def _decode(raw: bytes | None, name: str) -> Image.Image:
    """The image as RGB; a ValueError naming ``name`` when it is missing or cannot be decoded."""
    if raw is None:
        raise ValueError(f"image {name} is missing")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            return image.convert("RGB")
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, DecompressionBomb)
        raise ValueError(f"image {name} cannot be decoded ({type(exc).__name__}: {exc})") from None
