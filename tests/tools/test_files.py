from __future__ import annotations

import json
import os

import pytest

from dramaturg.tools import FileReader, ToolCall, ToolDefinitionError, ToolSet, file_reader


def minimal_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page, xref offsets computed."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for text in pages:
        stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
        page_id, content_id = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_id} 0 R")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {len(pages) * 2 + 3} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "notes.txt").write_text("The answer is 42.\nSecond line.")
    (folder / "readme.md").write_text("# Title\n\n- item")
    (folder / "scores.csv").write_text("name,score,city\nada,3,London\nalan,5,\n")
    (folder / "scores.tsv").write_text("name\tscore\nada\t3\n")
    (folder / "config.json").write_text(json.dumps({"model": "local", "layers": [1, 2]}))
    (folder / "people.json").write_text(
        json.dumps([{"name": "ada", "age": 36}, {"name": "alan", "age": 41}])
    )
    (folder / "events.jsonl").write_text(
        '{"t": 1, "e": "start"}\n\n{"t": 2, "e": "stop", "x": true}\n'
    )
    (folder / "nested.jsonl").write_text('{"a": {"b": 1}}\n')
    (folder / "report.pdf").write_bytes(minimal_pdf(["Quarterly revenue 1234", "Second page here"]))
    (folder / "data.bin").write_bytes(b"\x00\x01")
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.txt").write_text("deep")
    return folder


def read(root, path: str, **options):
    return ToolSet([file_reader(root, **options)]).call_sync(
        ToolCall(name="read_file", arguments={"path": path})
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("notes.txt", "The answer is 42.\nSecond line."),
        ("readme.md", "# Title\n\n- item"),
        ("sub/deep.txt", "deep"),
        ("scores.csv", "(2 data rows)\nname | score | city\nada | 3 | London\nalan | 5"),
        ("scores.tsv", "(1 data rows)\nname | score\nada | 3"),
        ("config.json", '{\n "model": "local",\n "layers": [\n  1,\n  2\n ]\n}'),
        ("people.json", "(2 data rows)\nname | age\nada | 36\nalan | 41"),
        ("events.jsonl", "(2 data rows)\nt | e | x\n1 | start\n2 | stop | True"),
        ("nested.jsonl", '(1 records)\n{"a": {"b": 1}}'),
    ],
)
def test_text_and_table_types(root, path, expected):
    result = read(root, path)
    assert result.ok, result.error
    assert result.output == expected


def test_xlsx_every_sheet_as_a_table(root):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sales"
    for row in (["region", "units", "price"], ["north", 10, 2.5], ["south", 7, 3.0]):
        sheet.append(row)
    other = book.create_sheet("Notes")
    other.append(["remember"])
    book.save(root / "sales.xlsx")
    result = read(root, "sales.xlsx")
    assert result.ok, result.error
    assert result.output == (
        "## sheet: Sales\n(2 data rows)\nregion | units | price\nnorth | 10 | 2.5\nsouth | 7 | 3"
        "\n\n## sheet: Notes\n(header only)\nremember"
    )


def test_pdf_text_of_every_page(root):
    pytest.importorskip("pypdf")
    result = read(root, "report.pdf")
    assert result.ok, result.error
    assert (
        result.output
        == "(2 pages)\n--- page 1 ---\nQuarterly revenue 1234\n--- page 2 ---\nSecond page here"
    )


def test_tables_are_capped_by_rows(root):
    (root / "big.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(1000)))
    result = read(root, "big.csv", max_rows=5)
    assert result.output.splitlines() == ["(1000 data rows)", "n", "0", "1", "2", "3", "4",
                                          "... [995 more rows not shown]"]  # fmt: skip


def test_long_text_is_capped(root):
    (root / "long.txt").write_text("x" * 5000)
    result = read(root, "long.txt", max_chars=1000)
    assert result.ok and result.output.endswith("[file text truncated at 1000 characters]")
    assert len(result.output) < 1100


@pytest.mark.parametrize(
    "path", ["../outside.txt", "/etc/passwd", "sub/../../outside.txt", "link.txt"]
)
def test_paths_outside_root_are_refused(root, path):
    (root.parent / "outside.txt").write_text("secret")
    os.symlink(root.parent / "outside.txt", root / "link.txt")
    result = read(root, path)
    assert not result.ok
    assert "outside the folder you may read" in result.error
    assert "secret" not in result.error + result.output


def test_unknown_type_missing_file_and_folder_give_clear_errors(root):
    unknown = read(root, "data.bin")
    assert not unknown.ok and unknown.error.startswith(
        "cannot read .bin files ('data.bin'); readable types: .csv"
    )
    missing = read(root, "nope.csv")
    assert not missing.ok and missing.error.startswith("no file 'nope.csv'. Files available: ")
    assert "scores.csv" in missing.error and "sub/deep.txt" in missing.error
    folder = read(root, "sub")
    assert not folder.ok and "is a folder" in folder.error


def test_broken_files_are_reported_not_raised(root):
    (root / "bad.json").write_text("{oops")
    (root / "bad.pdf").write_bytes(b"not a pdf at all")
    (root / "bad.xlsx").write_bytes(b"not a zip")
    for name in ("bad.json", "bad.pdf", "bad.xlsx"):
        result = read(root, name)
        assert not result.ok and name in result.error


def test_root_must_exist(tmp_path):
    with pytest.raises(ToolDefinitionError, match="is not a folder"):
        FileReader(tmp_path / "missing")
