"""Planning a CSV into byte-range parts: every record in exactly one part, lines absolute.

Each case parses every part on its own, as a loader child would (the header from the
plan for the parts that do not hold it), and compares the records, with their line
numbers, to one parse of the whole file by the loader's own reader.
"""

from __future__ import annotations

import random

import pytest
from loader_csv import csv_records, text_lines
from loader_plan import Part, SplitPlan, plan_at_offsets, plan_parts

HEADER = "id,name,note\r\n"


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def _records(data: bytes) -> list[tuple[int, object]]:
    return list(csv_records(text_lines([data])))


def _part_records(data: bytes, plan: SplitPlan) -> list[tuple[int, object]]:
    """Each part read as a loader child reads its range (its first line, no BOM past 0)."""
    records: list[tuple[int, object]] = []
    for part in plan.parts:
        text = text_lines([data[part.start : part.end]], object_start=part.start == 0)
        records += csv_records(text, first_line=part.first_line)
    return records


def _assert_exact(data: bytes, plan: SplitPlan) -> None:
    """The parts tile the object and their records are the whole file's, line by line."""
    assert plan.parts[0].start == 0 and plan.parts[-1].end == len(data)
    assert all(a.end == b.start for a, b in zip(plan.parts, plan.parts[1:], strict=False))
    assert [p.index for p in plan.parts] == list(range(len(plan.parts)))
    assert _part_records(data, plan) == _records(data)


def _field(rng: random.Random) -> str:
    kind = rng.randrange(8)
    text = "".join(rng.choice("abc xyz0é日😀") for _ in range(rng.randrange(0, 6)))
    if kind == 0:
        return f'"{text}\n{text}"'  # a quoted newline
    if kind == 1:
        return f'"{text}\r\n,{text}"'  # a quoted CRLF and comma
    if kind == 2:
        return f'"{text}""{text}"'  # a doubled quote
    if kind == 3:
        return '""'
    return text.replace(" ", "")


def _csv(rng: random.Random, rows: int) -> bytes:
    ending = rng.choice(["\n", "\r\n"])
    lines = [HEADER.replace("\r\n", ending)]
    for i in range(rows):
        lines.append(",".join([str(i), _field(rng), _field(rng)]) + ending)
        if rng.randrange(20) == 0:
            lines.append(ending)  # a blank line
    return "".join(lines).encode()


@pytest.mark.parametrize("seed", range(12))
def test_plan_loads_every_record_once_for_random_files(seed: int) -> None:
    # GIVEN a file of quoted newlines, CRLF, doubled quotes and multi-byte characters
    rng = random.Random(seed)
    data = _csv(rng, rows=rng.randrange(5, 80))
    for parts in (2, 3, 7):
        for chunk in (1, 5, 64, len(data)):
            # WHEN it is planned in parts, read in chunks of any size
            plan = plan_parts(_chunks(data, chunk), size=len(data), parts=parts)
            # THEN every record is in exactly one part, with its line number in the file
            assert plan.split and plan.reason is None
            _assert_exact(data, plan)
            assert plan.header == ("id", "name", "note")


def _at(data: bytes, needle: bytes, after: int = 0) -> int:
    return data.index(needle, after)


@pytest.mark.parametrize(
    ("body", "needle", "shift"),
    [
        # the nominal offset falls on the newline inside a quoted field
        (b'1,"first\nsecond",x\n2,b,c\n', b"\nsecond", 0),
        # on the CR of a CRLF record end, and on its LF
        (b"1,a,b\r\n2,c,d\r\n3,e,f\r\n", b"\r\n2", 0),
        (b"1,a,b\r\n2,c,d\r\n3,e,f\r\n", b"\r\n2", 1),
        # in the middle of a multi-byte UTF-8 character
        ("1,日本語,x\n2,b,c\n".encode(), "本".encode(), 1),
        # on the second quote of a doubled quote
        (b'1,"say ""hi"" twice",x\n2,b,c\n', b'""hi', 1),
    ],
)
def test_plan_boundary_on_the_hard_bytes_is_exact(body: bytes, needle: bytes, shift: int) -> None:
    # GIVEN a file and a split offset placed exactly on a hard byte
    data = HEADER.encode() + body
    offset = _at(data, needle) + shift
    # WHEN it is planned in two parts at that offset, in every chunking
    for chunk in (1, 2, 3, len(data)):
        plan = plan_at_offsets(_chunks(data, chunk), size=len(data), offsets=[offset])
        # THEN the boundary is the next true record end and no record is cut
        assert plan.split
        _assert_exact(data, plan)
        assert data[plan.parts[1].start - 1 : plan.parts[1].start] == b"\n"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'1,27" monitor,x\n2,b,c\n' * 3, "a quote inside an unquoted field at byte"),
        (b'1,"quoted"tail,x\n2,b,c\n' * 3, "text after a closing quote at byte"),
        (b'1,a,b\n2,c,d\n3,"never closed,x\n4,b,c\n', "a quoted field is still open at the end"),
    ],
)
def test_plan_refuses_to_split_what_a_byte_scan_cannot_read(body: bytes, reason: str) -> None:
    # GIVEN quotes the csv module reads differently from RFC 4180
    data = HEADER.encode() + body
    # WHEN the file is planned in 3 parts
    plan = plan_parts(_chunks(data, 7), size=len(data), parts=3)
    # THEN it is loaded whole, saying why
    assert (plan.split, plan.parts) == (False, (Part(0, 0, len(data), 1),))
    assert plan.reason is not None and reason in plan.reason


def test_plan_of_one_record_file_keeps_it_whole() -> None:
    # GIVEN a header and one record
    data = (HEADER + "1,a,b\r\n").encode()
    # WHEN it is planned in 4 parts
    plan = plan_parts([data], size=len(data), parts=4)
    # THEN there is no boundary past the header: one part, and the reason
    assert not plan.split and len(plan.parts) == 1
    assert plan.reason == "no record boundary past the header at any planned offset"


def test_plan_of_one_part_is_the_whole_object_without_reason() -> None:
    # GIVEN a file planned in one part
    data = (HEADER + "1,a,b\r\n2,c,d\r\n").encode()
    plan = plan_parts(_chunks(data, 3), size=len(data), parts=1)
    # THEN it is the object, unsplit, with nothing to explain
    assert plan == SplitPlan(parts=(Part(0, 0, len(data), 1),), header=("id", "name", "note"))


def test_plan_header_with_bom_and_quoted_newline() -> None:
    # GIVEN a header after a byte order mark, with a quoted name holding a newline
    data = b'\xef\xbb\xbf"id","long\nname",note\n' + b"1,a,b\n2,c,d\n3,e,f\n4,g,h\n"
    # WHEN it is planned
    plan = plan_parts(_chunks(data, 2), size=len(data), parts=3)
    # THEN the header is read whole and the parts are exact
    assert plan.header == ("id", "long\nname", "note")
    _assert_exact(data, plan)


def test_plan_counts_lines_of_cr_crlf_and_lf_like_the_csv_module() -> None:
    # GIVEN records ended by LF, CRLF and a quoted CR
    data = b'id,name,note\n1,a,b\r\n2,"x\ry",c\n3,d,e\n4,f,g\r\n5,h,i\n'
    # WHEN planned in 3 parts
    plan = plan_parts(_chunks(data, 1), size=len(data), parts=3)
    # THEN each part's first line is the file's, as the loader numbers rejects
    _assert_exact(data, plan)


def test_plan_refuses_a_wrong_size_and_no_parts() -> None:
    # GIVEN a size that is not the object's, or zero parts
    data = (HEADER + "1,a,b\r\n").encode()
    # THEN planning fails loudly instead of producing parts that do not tile the object
    with pytest.raises(ValueError, match="the object has 21 bytes, not the 99"):
        plan_parts([data], size=99, parts=2)
    with pytest.raises(ValueError, match="parts must be at least 1, got 0"):
        plan_parts([data], size=len(data), parts=0)
