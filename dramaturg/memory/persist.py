"""Save a whole :class:`~dramaturg.memory.Memory` to a folder and restore it, losslessly.

A saved folder::

    manifest.json                 format, version, embedder, sha256 of every file
    episodic.sqlite               a consistent copy of the event log (SQLite backup API)
    scene.json                    the scene graph
    semantic/namespaces.json      [{"namespace": [...], "file": "0000"}, ...]
    semantic/0000.json            ids, texts and metadata of one namespace
    semantic/0000.npy             its embeddings (float32, row i = item i)

The folder is written under a temporary name and renamed into place, so a
crash leaves either no folder or a complete one. Loading checks every
checksum before it touches anything.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dramaturg.errors import ConfigError
from dramaturg.memory._folder import read_json, write_json_atomic
from dramaturg.memory.errors import StoreCorruptError, StoreExistsError, StoreNotFoundError

if TYPE_CHECKING:
    from dramaturg.memory.memory import Memory

__all__ = ["FORMAT", "load", "save"]

FORMAT = "dramaturg-memory-save"
VERSION = 1
_FIX = "save it again from the live memory, or restore an intact copy of the folder"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def save(memory: Memory, dest: Path, *, overwrite: bool = False) -> Path:
    """Write ``memory`` to ``dest``; refuses a non-empty ``dest`` unless ``overwrite``."""
    if dest.exists() and not dest.is_dir():
        raise StoreExistsError(dest, "it is a file; pick a folder path")
    if _is_nonempty_dir(dest) and not overwrite:
        raise StoreExistsError(dest, "pick a new folder, or pass overwrite=True to replace it")
    if dest.resolve() == memory.path.resolve():
        raise ConfigError(
            f"cannot save a memory into its own live folder {dest}; pick another folder"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.saving-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        memory.episodic.backup(tmp / "episodic.sqlite")
        (tmp / "scene.json").write_text(memory.scene.to_json(), encoding="utf-8")
        sem = tmp / "semantic"
        sem.mkdir()
        index = []
        for n, (ns, items) in enumerate(memory.semantic.export()):
            name = f"{n:04d}"
            index.append({"namespace": list(ns), "file": name})
            rows = {"ids": [it.id for it in items], "texts": [it.text for it in items],
                    "metadatas": [dict(it.metadata) for it in items]}  # fmt: skip
            (sem / f"{name}.json").write_text(json.dumps(rows, sort_keys=True), encoding="utf-8")
            dim = memory.embedder.dim
            embs = (
                np.stack([it.embedding for it in items]).astype(np.float32)
                if items
                else np.zeros((0, dim), np.float32)
            )
            np.save(sem / f"{name}.npy", embs, allow_pickle=False)
        (sem / "namespaces.json").write_text(json.dumps(index, sort_keys=True), encoding="utf-8")
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT, "version": VERSION,
            "saved_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "embedder": {"name": memory.embedder.name, "dim": memory.embedder.dim},
            "events": memory.episodic.count(), "files": {f: _sha256(tmp / f) for f in files},
        }  # fmt: skip
        write_json_atomic(tmp / "manifest.json", manifest)
        if dest.exists():
            old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def verify(src: Path) -> dict[str, Any]:
    """Check a saved folder (presence, format, every checksum) and return its manifest."""
    if not src.exists():
        raise StoreNotFoundError(
            src,
            "saved memory",
            "check the path; a saved memory is a folder written by Memory.save()",
        )
    if not src.is_dir():
        raise StoreCorruptError(
            src, "it is a file, not a saved-memory folder", "pass the folder Memory.save() wrote"
        )
    manifest = read_json(src / "manifest.json", "the save manifest",
                         "this is not a folder written by Memory.save(), or the save was interrupted; " + _FIX)  # fmt: skip
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or manifest.get("version") != VERSION
    ):
        raise StoreCorruptError(
            src, f"manifest.json is not a version-{VERSION} {FORMAT} manifest", _FIX
        )
    for rel, digest in sorted(manifest.get("files", {}).items()):
        path = src / rel
        if not path.is_file():
            raise StoreCorruptError(src, f"{rel} is missing", _FIX)
        if _sha256(path) != digest:
            raise StoreCorruptError(
                src,
                f"{rel} does not match its checksum (changed or damaged since it was saved)",
                _FIX,
            )
    return manifest


def load(cls: type[Memory], src: Path, path: Path, **kwargs: Any) -> Memory:
    """Restore the saved folder ``src`` into a new live memory at ``path``."""
    manifest = verify(src)
    if _is_nonempty_dir(path):
        raise StoreExistsError(
            path, "restore into a new or empty folder (the live memory there was left as it is)"
        )
    semantic = kwargs.get("semantic")
    embedder = semantic.embedder if semantic is not None else kwargs.get("embedder")
    if embedder is not None and embedder.name != manifest["embedder"]["name"]:
        raise ConfigError(
            f"{src} was saved with embedder {manifest['embedder']['name']!r}; restoring with {embedder.name!r} "
            "would mix vector spaces. Pass the same embedder"
        )
    if semantic is not None and semantic.namespaces():
        raise StoreExistsError(
            Path(f"chroma:{semantic.prefix}"),
            "the chroma server already holds namespaces under this prefix; restore with another `prefix`",
        )
    path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "episodic.sqlite", path / "episodic.sqlite")
    shutil.copyfile(src / "scene.json", path / "scene.json")
    from dramaturg.memory._folder import write_marker

    if embedder is None:
        from dramaturg.memory.embedders import default_embedder

        embedder = default_embedder()
        kwargs["embedder"] = embedder
    write_marker(path, embedder.name)
    memory = cls(path, create=False, **kwargs)
    index = json.loads((src / "semantic" / "namespaces.json").read_text(encoding="utf-8"))
    for entry in index:
        rows = json.loads((src / "semantic" / f"{entry['file']}.json").read_text(encoding="utf-8"))
        embs = np.load(src / "semantic" / f"{entry['file']}.npy", allow_pickle=False)
        if len(rows["ids"]) != len(embs):
            raise StoreCorruptError(
                src,
                f"semantic/{entry['file']} has {len(rows['ids'])} items but {len(embs)} vectors",
                _FIX,
            )
        if rows["ids"]:
            memory.semantic.add(tuple(entry["namespace"]), rows["texts"], ids=rows["ids"],
                                metadatas=rows["metadatas"], embeddings=embs)  # fmt: skip
        else:
            memory.semantic._collection(
                tuple(entry["namespace"]), create=True
            )  # keep empty namespaces too
    return memory
