"""Reading the files of a GAIA-style task as text a model can use.

``file_reader(root)`` makes a ``read_file(path)`` tool restricted to one
folder: paths are resolved (symlinks included) and anything that lands
outside ``root`` is refused. Tables (csv, tsv, xlsx, jsonl of flat records)
come out as ``header | row`` lines with a row count, capped.

| type | how |
| --- | --- |
| .txt .md .log .py .html .xml .yaml | text (utf-8, undecodable bytes replaced) |
| .csv .tsv | table (``csv`` module) |
| .json | pretty JSON; a list of flat objects as a table |
| .jsonl .ndjson | one record a line; flat objects as a table |
| .xlsx .xlsm | every sheet as a table (needs ``openpyxl``: extra ``files``) |
| .pdf | text of every page (needs ``pypdf``: extra ``files``) |
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from dramaturg.errors import MissingExtraError
from dramaturg.tools._tables import render_records, render_table
from dramaturg.tools.definition import Tool
from dramaturg.tools.errors import ToolDefinitionError, ToolError

__all__ = ["READABLE_TYPES", "FileReader", "file_reader"]

_TEXT = {
    ".txt",
    ".md",
    ".markdown",
    ".log",
    ".py",
    ".html",
    ".htm",
    ".xml",
    ".yaml",
    ".yml",
    ".toml",
    ".ini",
}
READABLE_TYPES = sorted(
    _TEXT | {".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xlsx", ".xlsm", ".pdf"}
)


class FileReader:
    """Reads files under ``root`` as text; :func:`file_reader` wraps it as a tool.

    Args:
        root: the only folder files may be read from.
        max_rows: rows shown per table (the rest are counted).
        max_chars: cap on the returned text.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (root / "scores.csv").write_text("name,score\\nada,3\\n")
        >>> print(FileReader(root).read("scores.csv"))
        (1 data rows)
        name | score
        ada | 3
    """

    def __init__(
        self, root: str | os.PathLike[str], *, max_rows: int = 200, max_chars: int = 20_000
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ToolDefinitionError(
                f"file reader root {str(self.root)!r} is not a folder; create it first"
            )
        self.max_rows = max_rows
        self.max_chars = max_chars

    def resolve(self, path: str) -> Path:
        """The real path of ``path`` (relative to root), refused if it leaves root.

        Raises:
            ToolError: outside root, missing, or a folder (the message lists files).
        """
        if "\x00" in path:
            raise ToolError("the path contains a NUL character")
        target = (self.root / path.strip()).resolve()
        if not target.is_relative_to(self.root):
            raise ToolError(f"{path!r} is outside the folder you may read; use a path relative to it. "
                            f"Files available: {self._listing()}")  # fmt: skip
        if target.is_dir():
            raise ToolError(f"{path!r} is a folder, not a file. Files available: {self._listing()}")
        if not target.exists():
            raise ToolError(f"no file {path!r}. Files available: {self._listing()}")
        return target

    def _listing(self, limit: int = 30) -> str:
        names = []
        for dirpath, _, files in os.walk(self.root):
            for name in sorted(files):
                names.append(str((Path(dirpath) / name).relative_to(self.root)))
                if len(names) >= limit:
                    return ", ".join(names) + ", ..."
        return ", ".join(names) or "(none)"

    def read(self, path: str) -> str:
        """The file as text; see the module docstring for the types."""
        target = self.resolve(path)
        suffix = target.suffix.lower()
        if suffix in _TEXT:
            text = target.read_text(encoding="utf-8", errors="replace")
        elif suffix in (".csv", ".tsv"):
            text = self._delimited(target, "\t" if suffix == ".tsv" else ",")
        elif suffix == ".json":
            text = self._json(target)
        elif suffix in (".jsonl", ".ndjson"):
            text = self._jsonl(target)
        elif suffix in (".xlsx", ".xlsm"):
            text = self._xlsx(target)
        elif suffix == ".pdf":
            text = self._pdf(target)
        else:
            raise ToolError(
                f"cannot read {suffix or 'extension-less'} files ({path!r}); "
                f"readable types: {', '.join(READABLE_TYPES)}"
            )
        if len(text) > self.max_chars:
            text = (
                text[: self.max_chars]
                + f"\n... [file text truncated at {self.max_chars} characters]"
            )
        return text

    def _delimited(self, target: Path, delimiter: str) -> str:
        with open(target, newline="", encoding="utf-8-sig", errors="replace") as f:
            return render_table(csv.reader(f, delimiter=delimiter), max_rows=self.max_rows)

    def _json(self, target: Path) -> str:
        try:
            data = json.loads(target.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise ToolError(f"{target.name} is not valid JSON: {exc}") from None
        if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
            return render_records(data, max_rows=self.max_rows)
        return json.dumps(data, indent=1, ensure_ascii=False)

    def _jsonl(self, target: Path) -> str:
        records = []
        with open(target, encoding="utf-8-sig") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ToolError(
                        f"{target.name} line {number} is not valid JSON: {exc}"
                    ) from None
        return render_records(records, max_rows=self.max_rows)

    def _xlsx(self, target: Path) -> str:
        try:
            import openpyxl
        except ImportError:
            raise MissingExtraError("openpyxl", "files", "reading .xlsx files") from None
        try:
            book = openpyxl.load_workbook(target, read_only=True, data_only=True)
        except Exception as exc:
            raise ToolError(f"{target.name} is not a readable spreadsheet: {exc}") from None
        try:
            parts = []
            for sheet in book.worksheets:
                table = render_table(sheet.iter_rows(values_only=True), max_rows=self.max_rows)
                parts.append(f"## sheet: {sheet.title}\n{table}")
            return "\n\n".join(parts)
        finally:
            book.close()

    def _pdf(self, target: Path) -> str:
        try:
            import pypdf
        except ImportError:
            raise MissingExtraError("pypdf", "files", "reading .pdf files") from None
        try:
            reader = pypdf.PdfReader(target)
            pages = [
                f"--- page {i} ---\n{(page.extract_text() or '').strip()}"
                for i, page in enumerate(reader.pages, 1)
            ]
        except Exception as exc:
            raise ToolError(f"{target.name} is not a readable PDF: {exc}") from None
        return f"({len(pages)} pages)\n" + "\n".join(pages)


def file_reader(root: str | os.PathLike[str], *, max_rows: int = 200, max_chars: int = 20_000,
                timeout_s: float = 30.0) -> Tool:  # fmt: skip
    """A ``read_file(path)`` tool over the files under ``root``.

    Example:
        >>> import tempfile
        >>> from dramaturg.tools import ToolSet, ToolCall
        >>> tools = ToolSet([file_reader(tempfile.mkdtemp())])
        >>> tools.call_sync(ToolCall(name="read_file", arguments={"path": "../etc/passwd"})).ok
        False
    """
    reader = FileReader(root, max_rows=max_rows, max_chars=max_chars)

    def read_file(path: str) -> str:
        return reader.read(path)

    read_file.__doc__ = (
        "Read a file of the task and return its content as text (tables as 'header | row' lines).\n\n"
        "Args:\n"
        f"    path: the file's path, relative to the task folder. Types: {', '.join(READABLE_TYPES)}."
    )
    t = Tool.from_function(read_file, timeout_s=timeout_s, max_output_chars=max_chars + 500)
    t.reader = reader  # type: ignore[attr-defined]
    return t
