"""Generator of the bundled GAIA-style dataset (``dramaturg/evals/data/gaia-style/``).

Run ``python scripts/build_gaia.py [FOLDER]`` to rewrite the folder (the
package's copy by default). A maintainer's tool, not part of the package: the
package ships the files it writes.

Every attached file is made from seeded data, and every answer is *computed*
from the same data (exact fractions, never a typed number), so the answers
cannot drift from the files. Web questions are computed from the local web
world's content for ``seed=0`` (:func:`dramaturg.worlds.web.build_wiki`
and :func:`~dramaturg.worlds.web.build_catalogue`).

:func:`generate` builds everything in memory and returns the files and the
questions; each question carries ``evidence``: the snippets a reader must see
(in the file as :class:`~dramaturg.tools.files.FileReader` renders it, or in
the web world's observation of a path), which the dataset test checks.

One file on purpose: each file's data sits next to the questions asked
about it, which is what a reviewer of the dataset needs to read together.
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import count
from pathlib import Path
from typing import Any

__all__ = ["Question", "build", "generate"]

OUT = Path(__file__).resolve().parents[1] / "dramaturg" / "evals" / "data" / "gaia-style"
FILES = "files"
_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/dramaturg/gaia-style")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
FIRST = ("Ada", "Bruno", "Celia", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ivo", "Jana",
         "Kofi", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq",
         "Uma", "Viktor", "Wren", "Xenia", "Yusuf", "Zora")  # fmt: skip
LAST = ("Abbott", "Brandt", "Castell", "Duarte", "Eriksen", "Fonseca", "Grieve", "Holm", "Ilves",
        "Jovanic", "Kettle", "Lund", "Marsh", "Novak", "Okafor", "Pryce", "Quill", "Rask",
        "Stroud", "Thorn", "Ulrich", "Varga", "Wilde", "Yates", "Zeller")  # fmt: skip


@dataclass(kw_only=True)
class Question:
    """One task: what is asked, its computed answer, and the evidence it rests on.

    ``evidence`` holds ``(source, snippet)`` pairs: ``source`` is a file name
    under ``files/`` or a web path (starting with ``/``); ``snippet`` must
    appear in what the reader shows for it (whitespace collapsed).
    """

    key: str
    level: int
    question: str
    answer: str
    file: str = ""
    steps: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    evidence: list[tuple[str, str]] = field(default_factory=list)

    @property
    def task_id(self) -> str:
        return str(uuid.uuid5(_NS, self.key))

    @property
    def web(self) -> bool:
        return any(src.startswith("/") for src, _ in self.evidence)

    def record(self) -> dict[str, Any]:
        """The ``metadata.jsonl`` line, in GAIA's keys."""
        tools = self.tools or (["File reader"] if self.file else ["Web browser"])
        return {
            "task_id": self.task_id,
            "Question": self.question,
            "Level": self.level,
            "Final answer": self.answer,
            "file_name": f"{FILES}/{self.file}" if self.file else "",
            "Annotator Metadata": {
                "Steps": "\n".join(f"{i}. {s}" for i, s in enumerate(self.steps, 1)),
                "Number of steps": str(len(self.steps)),
                "Tools": "\n".join(f"{i}. {t}" for i, t in enumerate(tools, 1)),
                "Number of tools": str(len(tools)),
            },
        }


class _Retry(Exception):
    """The drawn data makes an ambiguous question; draw again."""


def _need(condition: bool) -> None:
    if not condition:
        raise _Retry


def _attempts(name: str) -> Iterator[random.Random]:
    for attempt in count():
        if attempt >= 500:
            raise RuntimeError(f"{name}: no unambiguous data in 500 draws (a bug in the generator)")
        yield random.Random(f"gaia-style/{name}/{attempt}")


def _draw(name: str, make: Callable[[random.Random], Any]) -> Any:
    for rng in _attempts(name):
        try:
            return make(rng)
        except _Retry:
            continue


def fmt(value: Fraction | int, places: int = 0) -> str:
    """``value`` rounded to ``places`` decimals, GAIA-style (no trailing zeros, no separators).

    Refuses (``_Retry``) a value exactly halfway between two roundings, where
    solvers could fairly disagree.
    """
    scaled = Fraction(value) * 10**places
    _need(scaled - math.floor(scaled) != Fraction(1, 2))
    q = round(scaled)
    whole, frac = divmod(abs(q), 10**places)
    text = ("-" if q < 0 else "") + str(whole) + (f".{frac:0{places}d}" if places else "")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _unique_max(scores: dict[str, Any]) -> str:
    best = max(scores.values())
    winners = [k for k, v in scores.items() if v == best]
    _need(len(winners) == 1)
    return winners[0]


def _unique_min(scores: dict[str, Any]) -> str:
    return _unique_max({k: -v for k, v in scores.items()})


def _people(rng: random.Random, n: int) -> list[str]:
    firsts, lasts = rng.sample(FIRST, n), rng.sample(LAST, n)
    return [f"{a} {b}" for a, b in zip(firsts, lasts, strict=True)]


def _csv(rows: list[list[Any]]) -> bytes:
    return ("\n".join(",".join(str(c) for c in r) for r in rows) + "\n").encode()


def _row(*cells: Any) -> str:
    """A table row as FileReader shows it."""
    return " | ".join(str(c) for c in cells)


def _jsonl_line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False)


def _pretty(record: Any) -> str:
    return " ".join(json.dumps(record, indent=1, ensure_ascii=False).split())


# ---------------------------------------------------------------- file writers
def _pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one Helvetica text stream per page, lines wrapped at 86 characters."""
    import textwrap

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    n = len(pages)
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{4 + 2 * i} 0 R' for i in range(n))}] /Count {n} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        wrapped = [w for line in lines for w in (textwrap.wrap(line, 86) or [""])]
        if len(wrapped) > 50:
            raise ValueError(f"page {i + 1} has {len(wrapped)} lines; at most 50 fit")
        text = " ".join(f"({esc(line)}) Tj T*" for line in wrapped)
        stream = f"BT /F1 11 Tf 14 TL 60 760 Td {text} ET".encode("latin-1")
        bodies.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        bodies.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(bodies) + 1,
        xref,
    )
    return bytes(out)


def _xlsx(sheets: dict[str, list[list[Any]]]) -> bytes:
    """An xlsx workbook, byte-for-byte reproducible (fixed timestamps inside and in the zip)."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append([float(c) if isinstance(c, Fraction) else c for c in row])
    raw = io.BytesIO()
    book.save(raw)
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2024-01-01T00:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, (2024, 1, 1, 0, 0, 0)), data)
    return fixed.getvalue()


# ---------------------------------------------------------------- txt
def _harbour(files: dict[str, bytes]) -> list[Question]:
    name = "harbour_log.txt"

    def make(rng: random.Random) -> list[Question]:
        ships = [
            "Marisol",
            "Kestrel Dawn",
            "Ottoline",
            "Brackwater",
            "Sea Juniper",
            "Halcyon Reach",
        ]
        cargo = ["timber", "grain", "salt", "coal", "wool"]
        arrivals = []
        for _ in range(26):
            month, day = rng.choice((3, 4)), rng.randint(1, 30)
            when = f"2023-{month:02d}-{day:02d} {rng.randint(5, 20):02d}:{rng.choice((0, 15, 30, 45)):02d}"
            arrivals.append((when, rng.choice(ships), rng.choice(cargo), rng.randint(8, 95) * 5))
        arrivals.sort()
        _need(len({a[0][:10] + a[1] for a in arrivals}) == len(arrivals))
        lines = [
            "HARBOUR MASTER'S LOG - PORT OF SALTLEIGH",
            "Times are local. Tonnage is cargo unloaded.",
            "",
        ]
        for when, ship, kind, tonnes in arrivals:
            lines.append(f"{when}  ARRIVED   {ship}  cargo={kind}  tonnes={tonnes}")
            lines.append(f"{when[:10]} {rng.randint(21, 23)}:00  DEPARTED  {ship}")
        files[name] = ("\n".join(lines) + "\n").encode()
        when, ship, kind, tonnes = rng.choice(arrivals)
        timber = [a for a in arrivals if a[2] == "timber" and a[0].startswith("2023-03")]
        _need(
            len(timber) >= 3
            and any(a[2] == "timber" and a[0].startswith("2023-04") for a in arrivals)
        )
        return [
            Question(
                key="harbour-tonnes", level=1, file=name,
                question=f"According to the attached harbour log, how many tonnes of cargo did the {ship} unload when it arrived on {when[:10]}?",
                answer=str(tonnes),
                steps=["Open the harbour log.", f"Find the ARRIVED line for {ship} on {when[:10]} and read tonnes."],
                evidence=[(name, f"{when}  ARRIVED   {ship}  cargo={kind}  tonnes={tonnes}")],
            ),
            Question(
                key="harbour-timber-march", level=2, file=name,
                question="According to the attached harbour log, how many tonnes of timber arrived in March 2023 in total?",
                answer=str(sum(a[3] for a in timber)),
                steps=["Open the harbour log.", "Keep the ARRIVED lines of March 2023 with cargo=timber.", "Add their tonnes."],
                evidence=[(name, f"{a[0]}  ARRIVED   {a[1]}  cargo=timber  tonnes={a[3]}") for a in timber],
            ),
        ]  # fmt: skip

    return _draw("harbour", make)


def _minutes(files: dict[str, bytes]) -> list[Question]:
    name = "meeting_minutes.txt"
    tasks = ["repair the north gate", "order compost for the spring", "update the plot waiting list",
             "book the marquee for the summer fair", "survey the water butts",
             "renew the insurance policy", "print the newsletter", "count the tools in the shed"]  # fmt: skip

    def make(rng: random.Random) -> list[Question]:
        people = _people(rng, 11)
        present, apologies = people[:8], people[8:]
        items = [(t, rng.choice(present[:6]), f"2024-{rng.choice((2, 3, 4)):02d}-{rng.randint(1, 28):02d}")
                 for t in rng.sample(tasks, 6)]  # fmt: skip
        early = sorted({o for _, o, due in items if due < "2024-03-15"})
        _need(2 <= len(early) < len({o for _, o, _ in items}))
        lines = [
            "Minutes of the Saltleigh Allotment Society committee meeting, 12 February 2024",
            "", "Present: " + ", ".join(present) + ".", "Apologies: " + ", ".join(apologies) + ".", "",
            f"1. The chair, {present[0]}, opened the meeting at 19:00.",
            f"2. Treasurer's report: {present[1]} reported a balance of {rng.randint(800, 2400)} pounds.",
            "3. Plot inspections will resume in April.", "", "Action items:",
            *[f"- {owner}: {task} (due {due})" for task, owner, due in items],
            "", "The meeting closed at 20:40.",
        ]  # fmt: skip
        files[name] = ("\n".join(lines) + "\n").encode()
        task, owner, due = items[2]
        return [
            Question(
                key="minutes-owner", level=1, file=name,
                question=f"In the attached meeting minutes, who is responsible for the action item to {task}? Give the full name.",
                answer=owner, steps=["Open the minutes.", "Read the owner of that action item."],
                evidence=[(name, f"- {owner}: {task} (due {due})")],
            ),
            Question(
                key="minutes-attendees", level=1, file=name,
                question="How many people were present at the committee meeting described in the attached minutes (apologies not counted)?",
                answer=str(len(present)), steps=["Open the minutes.", "Count the names after 'Present:'."],
                evidence=[(name, "Present: " + ", ".join(present) + ".")],
            ),
            Question(
                key="minutes-due-early", level=2, file=name,
                question="List the people who have at least one action item due before 15 March 2024 in the attached meeting minutes, as a comma-separated list of full names sorted alphabetically by first name, each name once.",
                answer=", ".join(early),
                steps=["Open the minutes.", "Keep the action items due before 2024-03-15.", "List their owners once each, sorted."],
                evidence=[(name, f"- {o}: {t} (due {d})") for t, o, d in items if d < "2024-03-15"],
            ),
        ]  # fmt: skip

    return _draw("minutes", make)


def _recipes(files: dict[str, bytes]) -> list[Question]:
    name = "recipe_cards.txt"

    def make(rng: random.Random) -> list[Question]:
        cards = {}
        lines = ["RECIPE CARDS FROM THE SALTLEIGH BAKERY", ""]
        for title, serves in (("Oat Crumble", 6), ("Barley Loaf", 4), ("Pear Tart", 8)):
            grams = {k: rng.randint(4, 60) * 5 for k in ("flour", "butter", "sugar")}
            cards[title] = (serves, grams)
            lines += [f"{title} (serves {serves})", *[f"  {g} g {k}" for k, g in grams.items()],
                      f"  {rng.randint(2, 6)} eggs", f"  Bake at {rng.choice((170, 180, 190))} C.", ""]  # fmt: skip
        files[name] = ("\n".join(lines) + "\n").encode()
        serves, grams = cards["Barley Loaf"]
        tart_serves, tart = cards["Pear Tart"]
        butter = Fraction(tart["butter"] * 10, tart_serves)
        _need(butter.denominator != 1)
        return [
            Question(
                key="recipe-flour", level=1, file=name,
                question="How many grams of flour does the Barley Loaf recipe in the attached recipe cards call for?",
                answer=str(grams["flour"]), steps=["Open the recipe cards.", "Read the flour of the Barley Loaf."],
                evidence=[(name, f"Barley Loaf (serves {serves}) {grams['flour']} g flour")],
            ),
            Question(
                key="recipe-butter-scaled", level=2, file=name,
                question="Using the attached recipe cards, how many grams of butter are needed to make the Pear Tart for 10 people? Round to the nearest gram.",
                answer=fmt(butter),
                steps=["Read the Pear Tart's butter and servings.", "Scale the butter to 10 servings and round."],
                evidence=[(name, f"Pear Tart (serves {tart_serves}) {tart['flour']} g flour {tart['butter']} g butter")],
            ),
        ]  # fmt: skip

    return _draw("recipes", make)


def _sensors(files: dict[str, bytes]) -> list[Question]:
    name = "sensor_log.txt"

    def make(rng: random.Random) -> list[Question]:
        times = [f"{8 + i // 2:02d}:{30 * (i % 2):02d}" for i in range(9)]
        faulty = {("T2", rng.choice(times[1:])), (rng.choice(("T1", "T4")), rng.choice(times))}
        lines, values = [], {}
        for t in times:
            for s in ("T1", "T2", "T3", "T4"):
                if (s, t) in faulty:
                    lines.append(f"[2024-05-01T{t}] sensor={s} value=-999.0 unit=C status=fault")
                    continue
                tenths = rng.randint(180, 260) + (30 if s == "T3" else 0)
                values[s, t] = Fraction(tenths, 10)
                lines.append(
                    f"[2024-05-01T{t}] sensor={s} value={tenths / 10:.1f} unit=C status=ok"
                )
        files[name] = ("\n".join(lines) + "\n").encode()
        t2 = [v for (s, _), v in values.items() if s == "T2"]
        return [
            Question(
                key="sensor-reading", level=1, file=name,
                question="What temperature value did sensor T3 report at 10:30 on 1 May 2024, according to the attached sensor log?",
                answer=fmt(values["T3", "10:30"], 1), steps=["Open the sensor log.", "Find sensor=T3 at 10:30."],
                evidence=[(name, f"[2024-05-01T10:30] sensor=T3 value={float(values['T3', '10:30']):.1f} unit=C")],
            ),
            Question(
                key="sensor-mean", level=2, file=name,
                question="What is the mean of sensor T2's readings in the attached sensor log, ignoring readings whose status is fault? Round to one decimal place.",
                answer=fmt(sum(t2) / len(t2), 1),
                steps=["Collect sensor=T2 lines with status=ok.", f"Average their {len(t2)} values and round."],
                evidence=[(name, f"sensor=T2 value={float(v):.1f} unit=C status=ok") for v in t2],
            ),
        ]  # fmt: skip

    return _draw("sensors", make)


def _journal(files: dict[str, bytes]) -> list[Question]:
    name = "keeper_journal.txt"

    def make(rng: random.Random) -> list[Question]:
        days = []
        lines = ["Journal of the keeper of Gull Rock light, October 2023", ""]
        for d in range(1, 15):
            wind, force = rng.choice(("NE", "NE", "SW", "W", "N", "E")), rng.randint(2, 8)
            oil, ships = Fraction(rng.randint(6, 18), 2), rng.randint(0, 6)
            lines.append(f"Day {d} ({d + 9} October). Wind {wind}, force {force}. Lamp oil used: "
                         f"{fmt(oil, 1)} litres. Ships sighted: {ships}.")  # fmt: skip
            days.append((d, wind, oil, ships, lines[-1]))
            if rng.random() < 0.4:
                lines.append(
                    rng.choice(("Cleaned the lens.", "Fog in the evening.", "Supply boat came."))
                )
        files[name] = ("\n".join(lines) + "\n").encode()
        ne = [d for d in days if d[1] == "NE"]
        _need(len(ne) >= 3)
        day9 = days[8]
        return [
            Question(
                key="journal-oil", level=1, file=name,
                question="According to the attached lighthouse keeper's journal, how many litres of lamp oil were used on day 9?",
                answer=fmt(day9[2], 1), steps=["Open the journal.", "Read the lamp oil of day 9."],
                evidence=[(name, day9[4])],
            ),
            Question(
                key="journal-ne-ships", level=2, file=name,
                question="According to the attached lighthouse keeper's journal, how many ships in total were sighted on the days when the wind came from the north-east (NE)?",
                answer=str(sum(d[3] for d in ne)),
                steps=["Keep the days with wind NE.", "Add their ships sighted."],
                evidence=[(name, d[4]) for d in ne],
            ),
        ]  # fmt: skip

    return _draw("journal", make)


# ---------------------------------------------------------------- csv
def _sales(files: dict[str, bytes]) -> list[Question]:
    name = "sales_2023.csv"

    def make(rng: random.Random) -> list[Question]:
        rows = [["month", "region", "units", "revenue_usd"]]
        revenue: dict[str, int] = {}
        for m in MONTHS:
            for region, price in (("North", 18), ("South", 21), ("East", 19), ("West", 23)):
                units = rng.randint(120, 480)
                rev = units * (price + rng.randint(-2, 2))
                revenue[region] = revenue.get(region, 0) + rev
                rows.append([m[:3], region, units, rev])
        files[name] = _csv(rows)
        top = _unique_max(revenue)
        aug = next(r for r in rows if r[:2] == ["Aug", "West"])
        return [
            Question(
                key="sales-units", level=1, file=name,
                question="According to the attached sales file, how many units were sold in the West region in August 2023?",
                answer=str(aug[2]), steps=["Open the sales file.", "Find month Aug, region West."],
                evidence=[(name, _row(*aug))],
            ),
            Question(
                key="sales-top-region", level=2, file=name,
                question="Which region had the highest total revenue over the whole year in the attached 2023 sales file?",
                answer=top, steps=["Sum revenue_usd by region.", "Take the largest."],
                evidence=[(name, "month | region | units | revenue_usd")],
            ),
        ]  # fmt: skip

    return _draw("sales", make)


def _staff(files: dict[str, bytes]) -> list[Question]:
    name = "staff.csv"

    def make(rng: random.Random) -> list[Question]:
        rows = [["employee_id", "name", "department", "office", "start_year", "salary"]]
        for i, person in enumerate(_people(rng, 24), 1):
            rows.append([f"E{i:03d}", person, rng.choice(("Engineering", "Sales", "Finance", "Support")),
                         rng.choice(("Lisbon", "Oslo", "Tallinn")), rng.randint(2008, 2023),
                         rng.randint(84, 196) * 500])  # fmt: skip
        files[name] = _csv(rows)
        finance = [r for r in rows[1:] if r[2] == "Finance"]
        _need(len(finance) >= 4)
        who = rng.choice(rows[1:])
        return [
            Question(
                key="staff-department", level=1, file=name,
                question=f"Which department does {who[1]} work in, according to the attached staff list?",
                answer=who[2], steps=["Open the staff list.", f"Find {who[1]}."],
                evidence=[(name, _row(*who))],
            ),
            Question(
                key="staff-finance-salary", level=2, file=name,
                question="What is the mean salary of the Finance department in the attached staff list? Round to the nearest whole number.",
                answer=fmt(Fraction(sum(r[5] for r in finance), len(finance))),
                steps=["Keep the Finance rows.", f"Average their {len(finance)} salaries and round."],
                evidence=[(name, _row(*r)) for r in finance],
            ),
        ]  # fmt: skip

    return _draw("staff", make)


def _weather(files: dict[str, bytes]) -> list[Question]:
    name = "weather_july_2024.csv"

    def make(rng: random.Random) -> list[Question]:
        rows = [["date", "max_temp_c", "min_temp_c", "rain_mm"]]
        for d in range(1, 32):
            high = rng.randint(220, 350)
            _need(high != 300)
            rain = 0 if rng.random() < 0.55 else rng.randint(2, 180)
            rows.append([f"2024-07-{d:02d}", f"{high / 10:.1f}", f"{(high - rng.randint(60, 120)) / 10:.1f}",
                         f"{rain / 10:.1f}"])  # fmt: skip
        runs, start = {}, None
        for i, r in enumerate([*rows[1:], ["end", "0", "0", "1"]]):
            if r[3] == "0.0":
                start = i if start is None else start
            elif start is not None:
                runs[rows[1 + start][0]] = i - start
                start = None
        longest = _unique_max(runs)
        files[name] = _csv(rows)
        rainy = rows[14]
        _need(rainy[3] != "0.0")
        return [
            Question(
                key="weather-rain", level=1, file=name,
                question="How many millimetres of rain fell on 14 July 2024 according to the attached weather file?",
                answer=fmt(Fraction(rainy[3]), 1), steps=["Open the weather file.", "Read rain_mm of 2024-07-14."],
                evidence=[(name, _row(*rainy))],
            ),
            Question(
                key="weather-hot-days", level=2, file=name,
                question="On how many days in the attached July 2024 weather file did the maximum temperature exceed 30 degrees Celsius?",
                answer=str(sum(Fraction(r[1]) > 30 for r in rows[1:])),
                steps=["Count the rows with max_temp_c above 30."],
                evidence=[(name, _row(*r)) for r in rows[1:] if Fraction(r[1]) > 30],
            ),
            Question(
                key="weather-dry-streak", level=3, file=name,
                question="In the attached July 2024 weather file, what is the longest run of consecutive days with no rain at all (0 mm), and on which date does it start? Answer as: number of days, start date (YYYY-MM-DD).",
                answer=f"{runs[longest]}, {longest}",
                steps=["Mark the days with rain_mm 0.", "Find the runs of consecutive dry days.", "Report the longest and its first date."],
                evidence=[(name, _row(*r)) for r in rows[1:] if longest <= r[0] < f"2024-07-{int(longest[-2:]) + runs[longest]:02d}"],
            ),
        ]  # fmt: skip

    return _draw("weather", make)


def _timetable(files: dict[str, bytes]) -> list[Question]:
    name = "train_timetable.csv"
    a, b, c, d = "Arden", "Bexley Cross", "Calder", "Dunlow"

    def hm(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def make(rng: random.Random) -> list[Question]:
        legs = []
        numbers = iter(rng.sample(range(100, 999), 40))
        for frm, to, n, lo, hi in (
            (a, d, 4, 70, 95),
            (a, b, 6, 18, 30),
            (b, d, 6, 35, 48),
            (b, c, 3, 15, 25),
            (c, d, 3, 20, 30),
        ):
            for _ in range(n):
                dep = rng.randint(6 * 12, 11 * 12) * 5
                legs.append((f"R{next(numbers)}", frm, to, dep, dep + rng.randint(lo, hi)))
        legs.sort(key=lambda leg: (leg[3], leg[0]))
        rows = [["train", "from", "to", "departs", "arrives"]] + [
            [t, f, to, hm(x), hm(y)] for t, f, to, x, y in legs
        ]
        files[name] = _csv(rows)
        start, change = 7 * 60 + 50, 6
        direct = [leg for leg in legs if leg[1:3] == (a, d)]
        fastest = _unique_min({leg[0]: leg[4] - leg[3] for leg in direct})
        options = {leg[0]: leg[4] for leg in direct if leg[3] >= start}
        trap = {}
        for x in (leg for leg in legs if leg[1:3] == (a, b) and leg[3] >= start):
            for y in (leg for leg in legs if leg[1:3] == (b, d)):
                if y[3] >= x[4] + change:
                    options[f"{x[0]}+{y[0]}"] = y[4]
                elif y[3] >= x[4]:
                    trap[f"{x[0]}+{y[0]}"] = y[4]
        best = _unique_min(options)
        _need("+" in best and min(trap.values(), default=10**6) < options[best])
        _need(all(leg[3] != start for leg in legs))
        one = rng.choice(legs)
        return [
            Question(
                key="train-departs", level=1, file=name,
                question=f"At what time does train {one[0]} depart, according to the attached timetable? Answer in 24-hour HH:MM format.",
                answer=hm(one[3]), steps=["Open the timetable.", f"Find train {one[0]}."],
                evidence=[(name, _row(one[0], one[1], one[2], hm(one[3]), hm(one[4])))],
            ),
            Question(
                key="train-fastest-direct", level=2, file=name,
                question=f"Which direct train from {a} to {d} in the attached timetable has the shortest journey time? Give its train number.",
                answer=fastest, steps=[f"Keep the trains from {a} to {d}.", "Subtract departure from arrival.", "Take the shortest."],
                evidence=[(name, _row(leg[0], a, d, hm(leg[3]), hm(leg[4]))) for leg in direct],
            ),
            Question(
                key="train-connection", level=3, file=name,
                question=f"A traveller is at {a} station at {hm(start)} and wants to reach {d} as early as possible, using the attached timetable. Changing trains at {b} takes at least {change} minutes. At what time can they arrive in {d} at the earliest? Answer in 24-hour HH:MM format.",
                answer=hm(options[best]),
                steps=[f"List direct trains from {a} after {hm(start)}.", f"List connections via {b} with a change of at least {change} minutes.", "Take the earliest arrival."],
                evidence=[(name, _row(leg[0], leg[1], leg[2], hm(leg[3]), hm(leg[4]))) for leg in legs if leg[0] in best.split("+")],
            ),
        ]  # fmt: skip

    return _draw("timetable", make)


# ---------------------------------------------------------------- json
def _inventory(files: dict[str, bytes]) -> list[Question]:
    name = "inventory.json"
    catalogue = [("HX-101", "door hinge"), ("BR-220", "shelf bracket"), ("SC-315", "wood screw box"),
                 ("PL-408", "wall plug pack"), ("NL-512", "nail tin"), ("CL-640", "cable clip bag"),
                 ("LK-702", "padlock"), ("HK-818", "coat hook")]  # fmt: skip

    def make(rng: random.Random) -> list[Question]:
        cost = {sku: rng.randint(40, 1900) for sku, _ in catalogue}
        houses = []
        for house in ("Harwick", "Lowmoor", "Stanlea"):
            items = [{"sku": sku, "name": n, "qty": rng.randint(10, 400), "unit_cost_usd": float(_money(cost[sku]))}
                     for sku, n in sorted(rng.sample(catalogue, rng.randint(4, 6)))]  # fmt: skip
            houses.append(
                {
                    "name": house,
                    "city": rng.choice(("Brisk", "Fenmore", "Oldcastle")),
                    "items": items,
                }
            )
        data = {"company": "Saltleigh Hardware", "currency": "USD", "warehouses": houses}
        files[name] = (json.dumps(data, indent=2) + "\n").encode()
        shared = [
            sku
            for sku, _ in catalogue
            if sum(any(i["sku"] == sku for i in h["items"]) for h in houses) >= 2
        ]
        _need(bool(shared))
        sku = rng.choice(shared)
        house = next(h for h in houses if any(i["sku"] == sku for i in h["items"]))
        item = next(i for i in house["items"] if i["sku"] == sku)
        low = houses[1]
        value = sum(i["qty"] * cost[i["sku"]] for i in low["items"])
        return [
            Question(
                key="inventory-qty", level=1, file=name,
                question=f"According to the attached inventory, how many units of SKU {sku} are stored in the {house['name']} warehouse?",
                answer=str(item["qty"]), steps=["Open the inventory.", f"Find warehouse {house['name']}, then SKU {sku}."],
                evidence=[(name, _pretty(item))],
            ),
            Question(
                key="inventory-value", level=2, file=name,
                question=f"What is the total value (quantity times unit cost) of all items in the {low['name']} warehouse of the attached inventory, in US dollars? Round to two decimal places.",
                answer=fmt(Fraction(value, 100), 2),
                steps=[f"Take the items of {low['name']}.", "Multiply qty by unit_cost_usd.", "Add them up."],
                evidence=[(name, _pretty(i)) for i in low["items"]],
            ),
        ]  # fmt: skip

    return _draw("inventory", make)


def _library(files: dict[str, bytes]) -> list[Question]:
    name = "library_catalogue.json"
    adjectives = (
        "Silent",
        "Crimson",
        "Hollow",
        "Northern",
        "Last",
        "Glass",
        "Winter",
        "Hidden",
        "Amber",
        "Salt",
    )
    nouns = (
        "Orchard",
        "Lantern",
        "Harbour",
        "Archive",
        "Meridian",
        "Garden",
        "Letter",
        "Tide",
        "Quarry",
        "Signal",
    )

    def make(rng: random.Random) -> list[Question]:
        titles = [
            f"The {x} {y}"
            for x, y in zip(rng.sample(adjectives, 10), rng.sample(nouns, 10), strict=True)
        ]
        authors = _people(rng, 7)
        books = [{"title": t, "author": rng.choice(authors), "year": rng.randint(1890, 2015),
                  "genres": sorted(rng.sample(("mystery", "romance", "history", "poetry", "travel"), rng.randint(1, 2))),
                  "copies": rng.randint(1, 6)} for t in titles]  # fmt: skip
        files[name] = (json.dumps(books, indent=1) + "\n").encode()
        hits = [bk for bk in books if "mystery" in bk["genres"] and bk["year"] < 1950]
        _need(
            len(hits) >= 2 and any("mystery" in bk["genres"] and bk["year"] >= 1950 for bk in books)
        )
        _need(any("mystery" not in bk["genres"] and bk["year"] < 1950 for bk in books))
        book = rng.choice(books)
        return [
            Question(
                key="library-author", level=1, file=name,
                question=f"Who wrote '{book['title']}', according to the attached library catalogue?",
                answer=book["author"], steps=["Open the catalogue.", "Find the title."],
                evidence=[(name, _jsonl_line(book))],
            ),
            Question(
                key="library-old-mysteries", level=2, file=name,
                question="How many books in the attached library catalogue are tagged with the genre 'mystery' and were published before 1950?",
                answer=str(len(hits)), steps=["Keep the books whose genres include mystery.", "Count those with year before 1950."],
                evidence=[(name, _jsonl_line(bk)) for bk in hits],
            ),
        ]  # fmt: skip

    return _draw("library", make)


def _flights(files: dict[str, bytes]) -> list[Question]:
    name = "flights.json"
    cities = ("Valmora", "Kestrel Bay", "Ostrand", "Pellin")

    def make(rng: random.Random) -> list[Question]:
        flights = []
        for code in rng.sample(range(100, 999), 14):
            frm, to = rng.sample(cities, 2)
            flights.append({"flight": f"NV{code}", "from": frm, "to": to,
                            "departs": f"{rng.randint(6, 21):02d}:{rng.choice((0, 20, 40)):02d}",
                            "duration_min": rng.randint(45, 190), "price_eur": rng.randint(39, 260)})  # fmt: skip
        files[name] = (
            json.dumps({"airline": "Northvale Air", "flights": flights}, indent=1) + "\n"
        ).encode()
        route = [f for f in flights if (f["from"], f["to"]) == ("Valmora", "Ostrand")]
        _need(len(route) >= 3)
        cheapest = _unique_min({f["flight"]: f["price_eur"] for f in route})
        one = rng.choice(flights)
        return [
            Question(
                key="flight-price", level=1, file=name,
                question=f"What is the price in euros of flight {one['flight']} in the attached flight schedule?",
                answer=str(one["price_eur"]), steps=["Open the schedule.", f"Find flight {one['flight']}."],
                evidence=[(name, _pretty(one))],
            ),
            Question(
                key="flight-cheapest", level=2, file=name,
                question="Which flight from Valmora to Ostrand in the attached flight schedule is the cheapest? Give its flight code.",
                answer=cheapest, steps=["Keep the flights from Valmora to Ostrand.", "Take the lowest price_eur."],
                evidence=[(name, _pretty(f)) for f in route],
            ),
        ]  # fmt: skip

    return _draw("flights", make)


def _project(files: dict[str, bytes]) -> list[Question]:
    name = "project_plan.json"
    names = ("Site survey", "Permits", "Foundations", "Frame", "Roof", "Wiring", "Plumbing",
             "Insulation", "Drywall", "Painting", "Inspection")  # fmt: skip

    def make(rng: random.Random) -> list[Question]:
        tasks = []
        for i, n in enumerate(names):
            deps = sorted(
                rng.sample([t["id"] for t in tasks], min(i, rng.randint(0 if i > 1 else 1, 2)))
            )
            tasks.append(
                {
                    "id": f"T{i + 1}",
                    "name": n,
                    "duration_days": rng.randint(2, 12),
                    "depends_on": deps,
                }
            )
        finish: dict[str, int] = {}
        for t in tasks:  # listed in dependency order
            finish[t["id"]] = (
                max((finish[d] for d in t["depends_on"]), default=0) + t["duration_days"]
            )
        total = max(finish.values())
        _need(
            total < sum(t["duration_days"] for t in tasks)
            and sum(not t["depends_on"] for t in tasks) >= 2
        )
        files[name] = (json.dumps(tasks, indent=1) + "\n").encode()
        one = tasks[5]
        return [
            Question(
                key="project-duration", level=1, file=name,
                question=f"How many days does the task '{one['name']}' take according to the attached project plan?",
                answer=str(one["duration_days"]), steps=["Open the plan.", f"Read duration_days of {one['name']}."],
                evidence=[(name, _jsonl_line(one))],
            ),
            Question(
                key="project-critical-path", level=3, file=name,
                question="In the attached project plan, each task starts as soon as all the tasks it depends on are finished, and tasks without dependencies start on day 0. Tasks may run in parallel. How many days does the whole project take?",
                answer=str(total),
                steps=["Read each task's duration and dependencies.", "Compute each task's finish as its duration plus the latest finish of its dependencies.", "Take the largest finish."],
                evidence=[(name, _jsonl_line(t)) for t in tasks],
            ),
        ]  # fmt: skip

    return _draw("project", make)


# ---------------------------------------------------------------- xlsx
def _budget(files: dict[str, bytes]) -> list[Question]:
    name = "budget_2024.xlsx"

    def make(rng: random.Random) -> list[Question]:
        income, expenses = (
            [["month", "source", "amount_usd"]],
            [["month", "category", "amount_usd"]],
        )
        net = {}
        for m in MONTHS:
            got = [("Sales", rng.randint(80, 150) * 100)]
            if rng.random() < 0.4:
                got.append(("Grants", rng.randint(20, 50) * 100))
            spent = [("Rent", 3200), ("Utilities", rng.randint(40, 90) * 10), ("Supplies", rng.randint(10, 40) * 100),
                     ("Wages", rng.randint(60, 90) * 100)]  # fmt: skip
            income += [[m, s, v] for s, v in got]
            expenses += [[m, c, v] for c, v in spent]
            net[m] = sum(v for _, v in got) - sum(v for _, v in spent)
        files[name] = _xlsx({"Income": income, "Expenses": expenses})
        worst = _unique_min(net)
        month = rng.choice(MONTHS)
        util = next(r for r in expenses if r[0] == month and r[1] == "Utilities")
        return [
            Question(
                key="budget-utilities", level=1, file=name,
                question=f"In the attached budget workbook, how much was spent on Utilities in {month}, in US dollars?",
                answer=str(util[2]), steps=["Open the Expenses sheet.", f"Find {month}, Utilities."],
                evidence=[(name, _row(*util))],
            ),
            Question(
                key="budget-net", level=2, file=name,
                question="What is the net result for the year (total income minus total expenses) in the attached budget workbook, in US dollars?",
                answer=str(sum(net.values())), steps=["Add the Income sheet.", "Add the Expenses sheet.", "Subtract."],
                evidence=[(name, "## sheet: Income"), (name, "## sheet: Expenses")],
            ),
            Question(
                key="budget-worst-month", level=3, file=name,
                question="In which month was the net result (income minus expenses) lowest in the attached budget workbook? Give the month's name.",
                answer=worst, steps=["Total income per month.", "Total expenses per month.", "Subtract and take the lowest month."],
                evidence=[(name, _row(*r)) for r in income + expenses if r[0] == worst],
            ),
        ]  # fmt: skip

    return _draw("budget", make)


def _grades(files: dict[str, bytes]) -> list[Question]:
    name = "grades.xlsx"
    subjects = ("maths", "physics", "chemistry")

    def make(rng: random.Random) -> list[Question]:
        students = _people(rng, 14)
        marks = {s: [rng.randint(35, 99) for _ in subjects] for s in students}
        weights = [
            Fraction(w)
            for w in rng.choice(
                (("0.5", "0.3", "0.2"), ("0.4", "0.4", "0.2"), ("0.2", "0.3", "0.5"))
            )
        ]
        plain = {s: Fraction(sum(m), 3) for s, m in marks.items()}
        weighted = {
            s: sum(w * x for w, x in zip(weights, m, strict=True)) for s, m in marks.items()
        }
        best = _unique_max(plain)
        first = _unique_max(weighted)
        second = _unique_max({s: v for s, v in weighted.items() if s != first})
        _need(second != _unique_max({s: v for s, v in plain.items() if s != best}))
        _need(best not in (first, second))
        files[name] = _xlsx({
            "Grades": [["student", *subjects]] + [[s, *m] for s, m in marks.items()],
            "Weights": [["subject", "weight"]] + [[s, w] for s, w in zip(subjects, weights, strict=True)],
        })  # fmt: skip
        who = rng.choice(students)
        return [
            Question(
                key="grades-physics", level=1, file=name,
                question=f"What physics grade did {who} get according to the attached workbook?",
                answer=str(marks[who][1]), steps=["Open the Grades sheet.", f"Find {who}."],
                evidence=[(name, _row(who, *marks[who]))],
            ),
            Question(
                key="grades-best-mean", level=2, file=name,
                question="Which student in the attached workbook has the highest unweighted average of the maths, physics and chemistry grades? Give the full name.",
                answer=best, steps=["Average the three grades of each student.", "Take the highest."],
                evidence=[(name, _row(best, *marks[best]))],
            ),
            Question(
                key="grades-weighted-second", level=3, file=name,
                question="Using the subject weights in the 'Weights' sheet of the attached workbook, which student has the second-highest weighted average grade? Give the full name.",
                answer=second,
                steps=["Read the weights.", "Compute each student's weighted average.", "Rank them and take the second."],
                evidence=[(name, _row(second, *marks[second])), (name, _row("physics", fmt(weights[1], 1)))],
            ),
        ]  # fmt: skip

    return _draw("grades", make)


def _fleet(files: dict[str, bytes]) -> list[Question]:
    name = "fleet_fuel.xlsx"

    def make(rng: random.Random) -> list[Question]:
        rows = [["plate", "model", "km_driven", "fuel_litres"]]
        for _ in range(10):
            km = rng.randint(30, 250) * 100
            rate = Fraction(rng.randint(50, 140), 10)
            rows.append([f"VH {rng.randint(1000, 9999)}", rng.choice(("Transit van", "Estate car", "Pickup", "Minibus", "City car")),
                         km, int(km * rate / 100)])  # fmt: skip
        _need(len({r[0] for r in rows}) == len(rows))
        worst = _unique_max({r[0]: Fraction(r[3], r[2]) for r in rows[1:]})
        _need(worst != _unique_max({r[0]: r[3] for r in rows[1:]}))
        files[name] = _xlsx({"Fleet 2023": rows})
        one = rows[1 + rng.randrange(10)]
        return [
            Question(
                key="fleet-km", level=1, file=name,
                question=f"How many kilometres did vehicle {one[0]} drive according to the attached fleet workbook?",
                answer=str(one[2]), steps=["Open the workbook.", f"Find plate {one[0]}."],
                evidence=[(name, _row(*one))],
            ),
            Question(
                key="fleet-worst-consumption", level=2, file=name,
                question="Which vehicle in the attached fleet workbook has the highest fuel consumption in litres per 100 km? Give its plate.",
                answer=worst, steps=["Divide fuel_litres by km_driven for each vehicle.", "Take the highest."],
                evidence=[(name, _row(*next(r for r in rows if r[0] == worst)))],
            ),
        ]  # fmt: skip

    return _draw("fleet", make)


# ---------------------------------------------------------------- pdf
def _report(files: dict[str, bytes]) -> list[Question]:
    name = "annual_report.pdf"

    def make(rng: random.Random) -> list[Question]:
        years = (2020, 2021, 2022, 2023)
        revenue = {y: rng.randint(900, 1600) * 1000 + rng.randint(0, 9) * 100 for y in years}
        costs = {y: revenue[y] * rng.randint(70, 95) // 100 // 100 * 100 for y in years}
        margin = {str(y): Fraction(revenue[y] - costs[y], revenue[y]) for y in years}
        best = _unique_max(margin)
        _need(best != _unique_max({str(y): revenue[y] for y in years}))
        growth = Fraction(revenue[2023] - revenue[2022], revenue[2022]) * 100
        said = {
            y: f"Revenue in {y} was ${revenue[y]:,}, against operating costs of ${costs[y]:,}."
            for y in years
        }
        pages = [
            ["Saltleigh Growers' Cooperative - Annual Report 2023", "",
             f"The cooperative now has {rng.randint(120, 300)} member farms across the valley.",
             "This report summarises four years of trading.", "", said[2020],
             "The first year was shaped by the closure of the old market hall.", "", said[2021],
             "A new cold store opened in the spring.", ""],
            ["Trading, continued", "", said[2022], "Two new buyers joined in the autumn.", "", said[2023],
             "The board thanks the members for their work.", "", "Signed, the board of directors."],
        ]  # fmt: skip
        files[name] = _pdf(pages)
        return [
            Question(
                key="report-revenue", level=1, file=name,
                question="According to the attached annual report, what was the cooperative's revenue in 2022, in US dollars?",
                answer=str(revenue[2022]), steps=["Open the report.", "Read the 2022 revenue."],
                evidence=[(name, said[2022])],
            ),
            Question(
                key="report-growth", level=2, file=name,
                question="By what percentage did the cooperative's revenue change from 2022 to 2023, according to the attached annual report? Round to one decimal place (negative for a fall).",
                answer=fmt(growth, 1), steps=["Read the 2022 and 2023 revenue.", "Compute (2023 - 2022) / 2022 x 100 and round."],
                evidence=[(name, said[2022]), (name, said[2023])],
            ),
            Question(
                key="report-best-margin", level=3, file=name,
                question="In the attached annual report, which year had the highest operating margin, defined as (revenue minus operating costs) divided by revenue?",
                answer=best, steps=["Read revenue and costs for each year (both pages).", "Compute each year's margin.", "Take the highest."],
                evidence=[(name, s) for s in said.values()],
            ),
        ]  # fmt: skip

    return _draw("report", make)


def _museum(files: dict[str, bytes]) -> list[Question]:
    name = "museum_guide.pdf"

    def make(rng: random.Random) -> list[Question]:
        adult, child, senior = (
            rng.choice((1250, 1300, 1450, 1500)),
            rng.choice((500, 600, 650, 700)),
            rng.choice((850, 900, 975, 1000)),
        )
        off = rng.choice((10, 15, 20))
        family = 2 * adult + 3 * child + senior
        group = Fraction(5 * adult, 2) + 4 * child
        group = group * (100 - off) / 100 / 100
        lines = [f"Adult ticket: ${_money(adult)}", f"Child ticket (ages 5 to 15): ${_money(child)}",
                 f"Senior ticket (65 and over): ${_money(senior)}", "Children under 5: free"]  # fmt: skip
        rules = [f"Groups of 8 or more visitors receive {off}% off the total price.",
                 "On Tuesdays, adult tickets are half price. The group discount is applied after any Tuesday reduction."]  # fmt: skip
        pages = [
            ["Museum of the Saltleigh Coast - Visitor Guide", "", "Opening hours: Tuesday to Sunday, 10:00 to 17:30.",
             "Closed on Mondays.", "", "The museum tells the story of the coast's fishing fleets, its lighthouses and its salt works.",
             "Audio guides are available at the desk."],
            ["Tickets", "", *lines, "", "Discounts", *rules],
        ]  # fmt: skip
        files[name] = _pdf(pages)
        return [
            Question(
                key="museum-child", level=1, file=name,
                question="How much does a child ticket cost, in US dollars, according to the attached museum guide?",
                answer=fmt(Fraction(child, 100), 2), steps=["Open the guide.", "Read the child ticket price."],
                evidence=[(name, lines[1])],
            ),
            Question(
                key="museum-family", level=2, file=name,
                question="Using the attached museum guide, how much do 2 adults, 3 children aged 8 to 12 and 1 senior pay in total for tickets on a Saturday, in US dollars?",
                answer=fmt(Fraction(family, 100), 2), steps=["Read the adult, child and senior prices.", "Multiply and add (6 visitors: no group discount)."],
                evidence=[(name, x) for x in lines[:3]],
            ),
            Question(
                key="museum-group", level=3, file=name,
                question="A group of 5 adults and 4 children aged 6 to 14 visits the museum on a Tuesday. Using the prices and discounts in the attached museum guide, what does the group pay in total, in US dollars? Round to two decimal places.",
                answer=fmt(group, 2),
                steps=["Read the prices and the discount rules.", "Halve the adult price (Tuesday).", "Add up 9 tickets.", f"Apply the {off}% group discount."],
                evidence=[(name, lines[0]), (name, lines[1]), *[(name, r) for r in rules]],
            ),
        ]  # fmt: skip

    return _draw("museum", make)


def _lab(files: dict[str, bytes]) -> list[Question]:
    name = "lab_protocol.pdf"
    actions = ("Chill the samples", "Mix the buffer", "Incubate the culture", "Spin down the tubes",
               "Heat the lysate", "Wash the pellet", "Denature the DNA", "Rest the plates")  # fmt: skip

    def make(rng: random.Random) -> list[Question]:
        steps, total = [], 0
        for i, act in enumerate(rng.sample(actions, 8), 1):
            temp = rng.choice((4, 20, 37, 56, 65, 95))
            if rng.random() < 0.3:
                hours = rng.randint(1, 3)
                total += 60 * hours
                length = f"{hours} hour" + ("s" if hours > 1 else "")
            else:
                minutes = rng.randint(2, 45)
                total += minutes
                length = f"{minutes} minutes"
            steps.append((temp, f"Step {i}: {act} at {temp} degrees C for {length}."))
        _need(any("hour" in s for _, s in steps))
        pages = [["Protocol LP-7: plasmid preparation", "", "Run the steps in order, one after another.",
                  "Wear gloves throughout.", "", *[s for _, s in steps], "", "End of protocol."]]  # fmt: skip
        files[name] = _pdf(pages)
        return [
            Question(
                key="lab-temperature", level=1, file=name,
                question="At what temperature, in degrees Celsius, is step 5 of the attached lab protocol carried out?",
                answer=str(steps[4][0]), steps=["Open the protocol.", "Read step 5."],
                evidence=[(name, steps[4][1])],
            ),
            Question(
                key="lab-total-time", level=2, file=name,
                question="How many minutes in total do the steps of the attached lab protocol take when run one after another?",
                answer=str(total), steps=["Read each step's duration.", "Convert hours to minutes and add."],
                evidence=[(name, s) for _, s in steps],
            ),
        ]  # fmt: skip

    return _draw("lab", make)


def _chess(files: dict[str, bytes]) -> list[Question]:
    name = "tournament_results.pdf"

    def make(rng: random.Random) -> list[Question]:
        players = _people(rng, 6)
        strength = {p: rng.random() * 0.4 for p in players}
        points = dict.fromkeys(players, Fraction(0))
        lines = [
            "Saltleigh Spring Rapid - round-robin results",
            "White player first. 1-0: white won, 0-1: black won, 1/2-1/2: draw.",
            "",
        ]
        ring = players[:]
        for rnd in range(1, 6):
            lines.append(f"Round {rnd}")
            for board in range(3):
                w, b = ring[board], ring[5 - board]
                if rnd % 2 == 0:
                    w, b = b, w
                edge = strength[w] - strength[b] + rng.uniform(-0.5, 0.5)
                result = "1-0" if edge > 0.12 else "0-1" if edge < -0.12 else "1/2-1/2"
                got = {"1-0": (1, 0), "0-1": (0, 1), "1/2-1/2": (Fraction(1, 2), Fraction(1, 2))}[
                    result
                ]
                points[w] += got[0]
                points[b] += got[1]
                lines.append(f"Board {board + 1}: {w} - {b} {result}")
            ring = [ring[0], ring[-1], *ring[1:-1]]
            lines.append("")
        winner = _unique_max(points)
        top, second = sorted(points.values())[-1:-3:-1]
        _need(top < 5 and top - second <= 1 and "1/2-1/2" in "".join(lines))
        files[name] = _pdf([lines])
        return [
            Question(
                key="chess-winner", level=3, file=name,
                question="According to the attached tournament results, where a win scores 1 point and a draw half a point, which player finished with the most points? Give the full name.",
                answer=winner, steps=["Read every game's result.", "Add up each player's points.", "Take the highest."],
                evidence=[(name, line) for line in lines if line.startswith("Board") and winner in line],
            ),
        ]  # fmt: skip

    return _draw("chess", make)


# ---------------------------------------------------------------- web (seed 0)
def _web(files: dict[str, bytes]) -> list[Question]:
    from dramaturg.worlds.web import build_catalogue, build_wiki

    wiki, shop = build_wiki(0), build_catalogue(0)
    products = sorted(shop.products.values(), key=lambda p: p.id)
    price = {p.id: Fraction(f"{p.price:.2f}") for p in products}

    def table(slug: str) -> list[tuple[str, ...]]:
        return list(wiki[slug].table[1:])

    def art(slug: str, row: tuple[str, ...]) -> tuple[str, str]:
        return (f"/wiki/article/{slug}", _row(*row))

    def page(p: Any) -> tuple[str, str]:
        return (f"/shop/product/{p.id}", f"Price: ${p.price:.2f}")

    def make(rng: random.Random) -> list[Question]:
        qs: list[Question] = []
        wtools, stools = ["Web browser (local wiki)"], ["Web browser (local shop)"]
        # -- level 1
        river = rng.choice(table("rivers"))
        light = rng.choice(table("lighthouses"))
        notes = wiki["comets"].files["comets-notes.txt"].splitlines()[1]
        survey = re.search(r"survey (\d+)", notes)[1]  # type: ignore[index]
        p1, p2 = rng.sample(products, 2)
        qs += [
            Question(key="wiki-river-length", level=1, tools=wtools,
                     question=f"According to the local wiki's article 'Rivers of Freedonia', what is the length in kilometres of the {river[0]} river?",
                     answer=river[1], steps=["Open the local wiki.", "Open 'Rivers of Freedonia'.", f"Read the Length of {river[0]}."],
                     evidence=[art("rivers", river)]),
            Question(key="wiki-lighthouse-built", level=1, tools=wtools,
                     question=f"On the local wiki, which value does the article 'Lighthouses of the North Coast' give in the 'Built' column for the {light[0]} lighthouse?",
                     answer=light[1], steps=["Open the lighthouses article.", f"Read the Built column of {light[0]}."],
                     evidence=[art("lighthouses", light)]),
            Question(key="wiki-comets-survey", level=1, tools=wtools,
                     question="The local wiki's article on periodic comets links a notes file. According to that file, from which survey number were the figures compiled?",
                     answer=survey, steps=["Open the 'Periodic comets' article.", "Open comets-notes.txt.", "Read the survey number."],
                     evidence=[("/wiki/files/comets-notes.txt", notes)]),
            Question(key="shop-price", level=1, tools=stools,
                     question=f"What is the price, in US dollars, of the {p1.name} on the local shop?",
                     answer=fmt(price[p1.id], 2), steps=["Search the local shop.", f"Open {p1.name}.", "Read the price."],
                     evidence=[page(p1)]),
            Question(key="shop-colours", level=1, tools=stools,
                     question=f"In how many colours is the {p2.name} offered on the local shop?",
                     answer=str(len(p2.colours)), steps=[f"Open {p2.name} on the local shop.", "Count the colour options."],
                     evidence=[(f"/shop/product/{p2.id}", f'combobox "Colour" value="{p2.colours[0]}" options=[{", ".join(p2.colours)}]')]),
        ]  # fmt: skip
        # -- level 2
        volcano = _unique_max({r[0]: int(r[1]) for r in table("volcanoes")})
        spans = [int(r[1]) for r in table("bridges")]
        kind = rng.choice(sorted({p.kind for p in products}))
        of_kind = [p for p in products if p.kind == kind]
        cheapest = _unique_min({p.name: price[p.id] for p in of_kind})
        b1, b2 = rng.sample([p for p in products if p.kind != kind], 2)
        qs += [
            Question(key="wiki-highest-volcano", level=2, tools=wtools,
                     question="Which volcano listed in the local wiki's article 'Volcanoes of the Ember Isles' has the highest elevation?",
                     answer=volcano, steps=["Open the volcanoes article.", "Compare the Elevation column."],
                     evidence=[art("volcanoes", r) for r in table("volcanoes")]),
            Question(key="wiki-orchard-trees", level=2, tools=wtools,
                     question="According to the local wiki's article 'Apple orchards of the valley', how many trees do the listed orchards have in total?",
                     answer=str(sum(int(r[1]) for r in table("orchards"))), steps=["Open the orchards article.", "Add the Trees column."],
                     evidence=[art("orchards", r) for r in table("orchards")]),
            Question(key="wiki-bridge-spans", level=2, tools=wtools,
                     question="On the local wiki, what is the difference in metres between the longest and the shortest span among the Bridges of Old Harbour?",
                     answer=str(max(spans) - min(spans)), steps=["Open the bridges article.", "Subtract the smallest span from the largest."],
                     evidence=[art("bridges", r) for r in table("bridges")]),
            Question(key="shop-cheapest-kind", level=2, tools=stools,
                     question=f"Which {kind} is the cheapest on the local shop? Give its product name as the shop shows it.",
                     answer=cheapest, steps=[f"Search the local shop for {kind}.", "Compare the prices."],
                     evidence=[page(p) for p in of_kind]),
            Question(key="shop-basket", level=2, tools=stools,
                     question=f"On the local shop, what is the total price in US dollars of two of the {b1.name} and one {b2.name}?",
                     answer=fmt(2 * price[b1.id] + price[b2.id], 2), steps=["Look up both prices.", "Compute 2 x first + second."],
                     evidence=[page(b1), page(b2)]),
        ]  # fmt: skip
        qs += _web_level3(rng, files, wiki, products, price, art, page)
        return qs

    return _draw("web", make)


def _web_level3(rng: random.Random, files: dict[str, bytes], wiki: Any, products: list[Any],
                price: dict[str, Fraction], art: Any, page: Any) -> list[Question]:  # fmt: skip
    both = ["File reader", "Web browser"]
    qs = []
    # a shop order priced from the shop
    order = [
        (p, rng.choice(p.colours), rng.choice(p.sizes), rng.randint(1, 4))
        for p in rng.sample(products, 4)
    ]
    files["shop_order.csv"] = _csv(
        [["product", "colour", "size", "qty"]] + [[p.name, c, s, q] for p, c, s, q in order]
    )
    qs.append(Question(
        key="web-order-total", level=3, file="shop_order.csv", tools=both,
        question="The attached order lists products from the local shop with quantities. Using the prices shown on the local shop, what is the order's total in US dollars?",
        answer=fmt(sum(price[p.id] * q for p, _, _, q in order), 2),
        steps=["Read the order.", "Look up each product's price on the local shop.", "Multiply by the quantities and add."],
        evidence=[("shop_order.csv", _row(p.name, c, s, q)) for p, c, s, q in order] + [page(p) for p, *_ in order],
    ))  # fmt: skip
    # a memo naming a river, measured on the wiki
    rivers = list(wiki["rivers"].table[1:])
    shortest = min(rivers, key=lambda r: int(r[1]))
    target = rng.choice([r for r in rivers if r is not shortest])
    orchard = rng.choice(wiki["orchards"].table[1:])[0]
    memo = [f"Field plan: the survey team will walk the banks of the {target[0]} river in May.",
            f"In June the team visits the {orchard} orchard to count trees."]  # fmt: skip
    files["field_memo.pdf"] = _pdf(
        [["MEMO - Freedonia Field Office", "To: survey staff", "", *memo, "", "Bring waders."]]
    )
    qs.append(Question(
        key="web-memo-river", level=3, file="field_memo.pdf", tools=both,
        question="The attached memo names the river the survey team will walk. According to the local wiki's article 'Rivers of Freedonia', how many kilometres longer is that river than the shortest river listed there?",
        answer=str(int(target[1]) - int(shortest[1])),
        steps=["Read the river's name in the memo.", "Open the rivers article on the local wiki.", "Subtract the shortest length from that river's length."],
        evidence=[("field_memo.pdf", memo[0]), art("rivers", target), art("rivers", shortest)],
    ))  # fmt: skip
    # comet sightings plus the wiki's periods
    comets = list(wiki["comets"].table[1:])
    sightings = [["observatory", "comet", "year_seen"]]
    for comet in comets:
        for year in sorted(rng.sample(range(1890, 2021), 3)):
            sightings.append(
                [rng.choice(("Kell Ridge", "Marrow Hill", "Saltleigh")), comet[0], year]
            )
    head, *rest = sightings
    rng.shuffle(rest)
    files["comet_sightings.xlsx"] = _xlsx({"Sightings": [head, *rest]})
    comet = rng.choice(comets)
    last = max(r[2] for r in rest if r[1] == comet[0])
    qs.append(Question(
        key="web-comet-return", level=3, file="comet_sightings.xlsx", tools=both,
        question=f"The attached workbook lists sightings of periodic comets. Taking the most recent sighting of comet {comet[0]} in the workbook and the period (in years) given for it in the local wiki's article 'Periodic comets', in which year is the comet next expected?",
        answer=str(last + int(comet[1])),
        steps=[f"Find the latest year_seen of {comet[0]} in the workbook.", "Read its period on the local wiki.", "Add them."],
        evidence=[("comet_sightings.xlsx", f"| {comet[0]} | {last}"), art("comets", comet)],
    ))  # fmt: skip
    # harvest per tree times the wiki's tree counts
    trees = {r[0]: int(r[1]) for r in wiki["orchards"].table[1:]}
    for _ in range(200):
        kg = {o: Fraction(rng.randint(100, 900), 10) for o in trees}
        totals = {o: kg[o] * trees[o] for o in trees}
        try:
            best = _unique_max(totals)
            _need(best != _unique_max(trees) and best != _unique_max(kg))
            break
        except _Retry:
            continue
    else:
        raise RuntimeError("orchard harvest: no unambiguous draw (has the wiki's content changed?)")
    harvest = {
        "season": 2023,
        "unit": "kg per tree",
        "orchards": [{"name": o, "kg_per_tree": float(v)} for o, v in kg.items()],
    }
    files["orchard_harvest.json"] = (json.dumps(harvest, indent=1) + "\n").encode()
    qs.append(Question(
        key="web-orchard-harvest", level=3, file="orchard_harvest.json", tools=both,
        question="The attached file gives each orchard's 2023 harvest in kilograms per tree. Using the number of trees each orchard has according to the local wiki's article 'Apple orchards of the valley', which orchard produced the largest total harvest?",
        answer=best,
        steps=["Read kg per tree for each orchard.", "Read each orchard's trees on the local wiki.", "Multiply and take the largest."],
        evidence=[("orchard_harvest.json", _pretty(o)) for o in harvest["orchards"]] + [art("orchards", r) for r in wiki["orchards"].table[1:]],
    ))  # fmt: skip
    # a shopping brief resolved on the shop
    combos = sorted({(p.kind, c, s) for p in products for c in p.colours for s in p.sizes})
    rng.shuffle(combos)
    for kind, colour, size in combos:
        fits = [p for p in products if p.kind == kind and colour in p.colours and size in p.sizes]
        cheapest_kind = min(price[p.id] for p in products if p.kind == kind)
        if len(fits) >= 2 and min(price[p.id] for p in fits) > cheapest_kind:
            pick = min(fits, key=lambda p: price[p.id])
            if sum(price[p.id] == price[pick.id] for p in fits) == 1:
                break
    else:
        raise RuntimeError(
            "shopping brief: no unambiguous combination (has the shop's content changed?)"
        )
    brief = [f"Please buy one {kind} from the local shop for the new volunteer.",
             f"It must be available in the colour {colour} and in size {size}.",
             "If several products qualify, choose the cheapest one."]  # fmt: skip
    files["shopping_brief.txt"] = (
        "Team kit request\n\n" + "\n".join(brief) + "\n\nThanks, the office\n"
    ).encode()
    qs.append(Question(
        key="web-shopping-brief", level=3, file="shopping_brief.txt", tools=both,
        question="Follow the attached brief. Which product from the local shop should be bought, and what is its price in US dollars? Answer as: product name, price",
        answer=f"{pick.name}, {fmt(price[pick.id], 2)}",
        steps=["Read the brief.", f"List the {kind} products on the local shop.", f"Keep those offered in {colour} and size {size}.", "Take the cheapest."],
        evidence=[("shopping_brief.txt", b) for b in brief] + [page(p) for p in products if p.kind == kind],
    ))  # fmt: skip
    return qs


# ---------------------------------------------------------------- assembly
_MAKERS = (_harbour, _minutes, _recipes, _sensors, _journal, _sales, _staff, _weather, _timetable,
           _inventory, _library, _flights, _project, _budget, _grades, _fleet, _report, _museum,
           _lab, _chess, _web)  # fmt: skip


def generate() -> tuple[dict[str, bytes], list[Question]]:
    """Every attached file (name -> bytes) and every question, in memory; deterministic."""
    files: dict[str, bytes] = {}
    questions: list[Question] = []
    for maker in _MAKERS:
        questions += maker(files)
    questions.sort(key=lambda q: q.level)  # stable: authoring order within a level
    keys = [q.key for q in questions]
    if len(set(keys)) != len(keys):
        raise RuntimeError("two questions share a key")
    return files, questions


def _readme(files: dict[str, bytes], questions: list[Question]) -> str:
    levels = {lv: sum(q.level == lv for q in questions) for lv in (1, 2, 3)}
    web = [q for q in questions if q.web]
    types: dict[str, int] = {}
    for n in files:
        types[n.rsplit(".", 1)[-1]] = types.get(n.rsplit(".", 1)[-1], 0) + 1
    by_type = ", ".join(f"{v} {k}" for k, v in sorted(types.items()))
    return f"""# GAIA-style questions (bundled with dramaturg)

{len(questions)} questions in the format of GAIA's `metadata.jsonl` (keys `task_id`,
`Question`, `Level`, `Final answer`, `file_name`, `Annotator Metadata`), answerable
offline. Level 1: {levels[1]}, level 2: {levels[2]}, level 3: {levels[3]}.
Score answers with `dramaturg.evals.gaia.gaia_score` (GAIA's leaderboard rules).

- **Attached files** ({len(files)}: {by_type}) live in `files/`; `file_name` is relative
  to this folder and empty when a question has no file. Give an agent the one file of
  its task, never this folder: `metadata.jsonl` holds the answers.
- **Web questions** ({len(web)}) name "the local wiki" or "the local shop": the site of
  dramaturg's web world (`make_world("web/wiki")`, `make_world("web/shop")`). Their
  answers hold for the content served **after `reset(seed=0)`**; another seed serves
  other figures. Facts live at `/wiki/article/<slug>`, `/wiki/files/<name>`,
  `/shop/search?q=<words>` and `/shop/product/<id>`. Some pages carry the web world's
  prompt-injection text on purpose; no answer depends on it.

Level 1 is one lookup; level 2 a lookup plus a computation; level 3 several steps
(a file plus the web site, or a chain of computations).

## How it was made

Generated by `python scripts/build_gaia.py`, which draws every file from
seeded random data and computes every answer from the same data with exact
fractions (an answer is never typed by hand). Web answers are computed from the
web world's content builders for seed 0. Do not edit these files by hand: change
the generator and run it again; `tests/evals/test_gaia_dataset.py` checks that the
folder matches the generator's output and that each answer's evidence is visible
to dramaturg's file reader and in the served pages.

The people, places and figures are fictional.
"""


def build(out: str | Path = OUT) -> list[Question]:
    """Write the dataset into ``out`` (``metadata.jsonl``, ``README.md``, ``files/``); return the questions.

    Files of ``files/`` that the generator no longer makes are removed.
    """
    out = Path(out)
    files, questions = generate()
    (out / FILES).mkdir(parents=True, exist_ok=True)
    for stale in (out / FILES).iterdir():
        if stale.is_file() and stale.name not in files:
            stale.unlink()
    for n, data in sorted(files.items()):
        (out / FILES / n).write_bytes(data)
    lines = [json.dumps(q.record(), ensure_ascii=False) for q in questions]
    (out / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(files, questions), encoding="utf-8")
    return questions


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    made = build(target)
    print(f"wrote {len(made)} questions to {target}")
