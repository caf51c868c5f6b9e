"""The loader's row rules against DynamoDB's documented limits, boundary by boundary.

Figures from the DynamoDB Developer Guide: "Supported data types and naming rules"
(numbers: 38 significant digits once leading and trailing zeros are trimmed, magnitude
1E-130 to 9.9999999999999999999999999999999999999E+125, or zero) and "Constraints in
Amazon DynamoDB" (partition key value 2048 bytes, sort key value 1024 bytes, item 400 KB).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from loader_csv import HeaderError, ItemBuilder, dynamodb_number, item_key, number_problem

LARGEST = "9.9999999999999999999999999999999999999E+125"
DIGITS_38 = "12345678901234567890123456789012345678"


def _short_id(value: str) -> str:
    return value if len(value) < 20 else f"{value[:8]}..({len(value)})"


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        (DIGITS_38, DIGITS_38),
        ("1" + "0" * 40, "1E+40"),  # trailing zeros are trimmed: one significant digit
        ("0.1" + "0" * 40, "0.1"),
        ("0" * 45 + "7", "7"),  # leading zeros do not count either
        (DIGITS_38 + "0" * 5, "1.2345678901234567890123456789012345678E+42"),
        ("1E+125", "1E+125"),
        (LARGEST, LARGEST),
        ("-" + LARGEST, "-" + LARGEST),
        ("1E-130", "1E-130"),
        ("-1E-130", "-1E-130"),
        ("0.0000000001E-120", "1E-130"),
        ("0", "0"),
        ("-0", "0"),
        ("-0.000", "0"),
        ("0e1000", "0"),
        ("+5", "5"),
        ("007", "7"),
        ("1.50", "1.50"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1e5", "1E+5"),
        ("-17.4E37", "-1.74E+38"),
    ],
    ids=_short_id,
)
def test_dynamodb_number_accepts_what_dynamodb_stores(text: str, sent: str) -> None:
    # GIVEN a number DynamoDB stores (just inside a documented limit, or a notation it reads)
    # WHEN the loader prepares it
    result = dynamodb_number(text)

    # THEN it is sent in a compact form of the same value, which it would send unchanged
    assert result == sent
    assert Decimal(result) == Decimal(text)
    assert dynamodb_number(result) == result


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1" + DIGITS_38, "39 significant digits"),
        ("1." + DIGITS_38, "39 significant digits"),
        ("1E+126", "above DynamoDB's largest magnitude"),
        ("10E+125", "above DynamoDB's largest magnitude"),
        ("5E+126", "above DynamoDB's largest magnitude"),
        ("-1E+126", "above DynamoDB's largest magnitude"),
        ("1E-131", "below DynamoDB's smallest magnitude"),
        ("0.9E-130", "below DynamoDB's smallest magnitude"),
        ("-1E-131", "below DynamoDB's smallest magnitude"),
        ("2.5E-150", "below DynamoDB's smallest magnitude"),
        ("1E" + "9" * 5000, "exponent out of DynamoDB's range"),
        ("1\u06623", "is not a number"),  # an Arabic-Indic digit
        ("\uff11\uff12\uff13", "is not a number"),  # full-width digits
        ("NaN", "is not a number"),
        ("Infinity", "is not a number"),
        ("-inf", "is not a number"),
        ("1_000", "is not a number"),
        (" 1", "is not a number"),
        ("1 ", "is not a number"),
        ("1,5", "is not a number"),
        (".", "is not a number"),
        ("e5", "is not a number"),
        ("1e", "is not a number"),
        ("0x1F", "is not a number"),
    ],
    ids=_short_id,
)
def test_dynamodb_number_refuses_what_dynamodb_refuses(text: str, why: str) -> None:
    # GIVEN a value DynamoDB refuses as a number (just outside a documented limit)
    # WHEN the loader prepares it
    # THEN it is not sent, and the reason names the broken rule
    assert dynamodb_number(text) is None
    problem = number_problem(text)
    assert problem is not None and why in problem


def _builder(*keys: str, numeric: tuple[str, ...] = ()) -> ItemBuilder:
    return ItemBuilder(["id", "sk", "v"], key_columns=keys, numeric_columns=numeric)


@pytest.mark.parametrize(
    ("partition", "reason"),
    [
        ("a" * 2048, None),
        ("a" * 2049, "key_too_large"),
        ("\u00e9" * 1024, None),  # 2 bytes each in UTF-8: 2048 bytes
        ("\u00e9" * 1025, "key_too_large"),  # 1025 characters, 2050 bytes
        ("\U0001f600" * 512, None),  # 4 bytes each
        ("\U0001f600" * 513, "key_too_large"),
    ],
    ids=["2048-ascii", "2049-ascii", "2048-bytes-2-byte", "2050-bytes", "2048-emoji", "2052-emoji"],
)
def test_item_builder_limits_the_partition_key_to_2048_utf8_bytes(
    partition: str, reason: str | None
) -> None:
    # GIVEN a partition key value just inside or outside DynamoDB's 2048 bytes
    # WHEN the row is built
    built = _builder("id").build([partition, "s", "v"])

    # THEN it is rejected only when its UTF-8 form is longer than 2048 bytes
    assert (built if isinstance(built, str) else None) == reason


@pytest.mark.parametrize(
    ("sort", "reason"),
    [
        ("b" * 1024, None),
        ("b" * 1025, "key_too_large"),
        ("\u00e9" * 512, None),
        ("\u00e9" * 513, "key_too_large"),
    ],
    ids=["1024-ascii", "1025-ascii", "1024-bytes", "1026-bytes"],
)
def test_item_builder_limits_the_sort_key_to_1024_utf8_bytes(sort: str, reason: str | None) -> None:
    # GIVEN a sort key value just inside or outside DynamoDB's 1024 bytes
    # WHEN the row is built
    built = _builder("id", "sk").build(["p", sort, "v"])

    # THEN it is rejected only above 1024 bytes
    assert (built if isinstance(built, str) else None) == reason


@pytest.mark.parametrize(
    "value", ["", " ", "\t", " \u00a0 "], ids=["empty", "space", "tab", "nbsp"]
)
def test_item_builder_rejects_a_key_that_is_empty_or_only_whitespace(value: str) -> None:
    # GIVEN a key value with no visible character
    # WHEN the row is built
    # THEN it is an empty key
    assert _builder("id").build([value, "s", "v"]) == "empty_key"


def test_item_builder_keeps_whitespace_around_a_key_as_written() -> None:
    # GIVEN a key with spaces around it
    # WHEN the row is built
    built = _builder("id").build([" a ", "s", "v"])

    # THEN it is accepted and stored as written
    assert not isinstance(built, str)
    assert built[0] == " a " and built[1]["id"] == {"S": " a "}


@pytest.mark.parametrize(
    ("size", "reason"),
    [(400 * 1024, None), (400 * 1024 + 1, "item_too_large")],
    ids=["409600-bytes", "409601-bytes"],
)
def test_item_builder_limits_the_item_to_400_kb(size: int, reason: str | None) -> None:
    # GIVEN an item of exactly 400 KB (names "id", "sk", "v" and values), or one byte more
    fields = ["k", "s", "x" * (size - len("idskv") - 2)]

    # WHEN the row is built
    built = _builder("id").build(fields)

    # THEN only the larger one is rejected
    assert (built if isinstance(built, str) else None) == reason


def test_item_builder_sends_numbers_in_the_form_dynamodb_accepts() -> None:
    # GIVEN a numeric column with a zero-padded value and a numeric key written with a plus sign
    builder = _builder("id", numeric=("id", "v"))

    # WHEN the row is built
    built = builder.build(["+12", "s", "1" + "0" * 40])

    # THEN both are numbers in a compact form, and the key is the number's value
    assert not isinstance(built, str)
    key, item = built
    assert item == {"id": {"N": "12"}, "sk": {"S": "s"}, "v": {"N": "1E+40"}}
    assert key == Decimal(12) == item_key(item, ["id"])


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        (["a", "b"], "2 fields, the header has 3"),
        ([" ", "s", "1"], "key column id is empty (only whitespace)"),
        (
            ["\u00e9" * 1025, "s", "1"],
            "key column id is 2050 bytes, a partition key value is at most 2048",
        ),
        (
            ["a", "s", "2.5E-150"],
            "column v: '2.5E-150' is below DynamoDB's smallest magnitude, 1E-130",
        ),
        (["a", "s", "1\u06623"], "column v: '1\u06623' is not a number"),
        (["a", "s", "9" * 39], "column v: '" + "9" * 39 + "' has 39 significant digits"),
        (["a", "s", "1"], ""),
    ],
    ids=[
        "column-count",
        "empty-key",
        "key-too-large",
        "below-range",
        "non-ascii",
        "digits",
        "valid",
    ],
)
def test_item_builder_explains_a_reject_naming_the_column(fields: list[str], detail: str) -> None:
    # GIVEN a builder with a numeric column
    builder = _builder("id", numeric=("v",))

    # WHEN a rejected record is explained
    # THEN the explanation names the column and the rule
    assert builder.explain(fields).startswith(detail)


def test_item_builder_explains_an_item_too_large_with_its_size() -> None:
    # GIVEN a record above 400 KB
    fields = ["k", "s", "x" * (400 * 1024)]

    # WHEN it is explained
    # THEN the explanation gives its size and the limit
    assert _builder("id").explain(fields) == (
        "the item is about 409,607 bytes, DynamoDB's limit is 409,600"
    )


def _typed(null_values: tuple[str, ...] = ("",)) -> ItemBuilder:
    return ItemBuilder(
        ["id", "name", "amount", "active"],
        key_columns=["id"],
        numeric_columns=["amount"],
        boolean_columns=["active"],
        null_values=null_values,
    )


@pytest.mark.parametrize(
    ("cell", "stored"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("tRuE", True),
        ("false", False),
        ("FALSE", False),
        ("False", False),
    ],
)
def test_item_builder_stores_true_and_false_in_any_letter_case_as_booleans(
    cell: str, stored: bool
) -> None:
    # GIVEN a boolean column
    # WHEN a row with true or false in some letter case is built
    built = _typed().build(["a", "n", "1", cell])

    # THEN the attribute is a DynamoDB BOOL
    assert not isinstance(built, str)
    assert built[1]["active"] == {"BOOL": stored}


@pytest.mark.parametrize("cell", ["yes", "no", "1", "0", "t", "f", " true", "true ", "NA"])
def test_item_builder_rejects_any_other_boolean_cell(cell: str) -> None:
    # GIVEN a boolean column and the default null values (only the empty string)
    # WHEN a row with something else than true or false is built
    # THEN it is rejected as a bad boolean, and the explanation names the column
    assert _typed().build(["a", "n", "1", cell]) == "bad_boolean"
    assert _typed().explain(["a", "n", "1", cell]).startswith(f"column active: {cell!r}")


def test_item_builder_omits_every_attribute_whose_cell_is_a_null_value() -> None:
    # GIVEN NA as a null value
    builder = _typed(("NA",))

    # WHEN a row with NA in a string, a numeric and a boolean column is built
    built = builder.build(["a", "NA", "NA", "NA"])

    # THEN only the key is left
    assert not isinstance(built, str)
    assert built[1] == {"id": {"S": "a"}}


def test_item_builder_rejects_a_key_that_is_a_null_value() -> None:
    # GIVEN NA as a null value
    builder = _typed(("NA",))

    # WHEN a row whose key is NA is built
    # THEN it is an empty key, and the explanation says which null value
    assert builder.build(["NA", "n", "1", "true"]) == "empty_key"
    assert builder.explain(["NA", "n", "1", "true"]) == "key column id is empty (null value 'NA')"


@pytest.mark.parametrize(
    ("null_values", "cell", "stored"),
    [
        (("",), "NA", {"S": "NA"}),
        (("NA",), "NA", None),
        (("NA",), "na", {"S": "na"}),
        (("NA",), " NA", {"S": " NA"}),
        (("",), "", None),
    ],
    ids=["NA-by-default", "NA-listed", "other-case", "with-space", "empty"],
)
def test_item_builder_matches_null_values_exactly(
    null_values: tuple[str, ...], cell: str, stored: dict[str, str] | None
) -> None:
    # GIVEN a name cell and the null values of the case
    # WHEN the row is built
    built = _typed(null_values).build(["a", cell, "1", "true"])

    # THEN the cell is omitted only when it equals a null value (letter case and spaces count)
    assert not isinstance(built, str)
    assert built[1].get("name") == stored


# --- a header without the key columns ----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "hint"),
    [
        (["id;name;amount"], "the file looks delimited by ';', not commas"),
        (["id\tname"], "the file looks delimited by tab, not commas"),
        (["id|name"], "the file looks delimited by '|', not commas"),
        ([" id", "name"], "column ' id' has spaces around its name: remove them"),
        (["id ", "name"], "column 'id ' has spaces around its name"),
        (["\ufeffid", "name"], r"holds invisible characters (U+FEFF; U+FEFF is a byte order mark"),
        (["i\u200bd", "name"], "holds invisible characters (U+200B"),
        (["'id'", "name"], "keeps its quotes"),
        (["ID", "name"], "column 'ID' differs from 'id' in letter case only"),
        (
            ["name", "amount"],
            "fix the header, or set key_columns (KEY_COLUMNS) to the header's names",
        ),
    ],
    ids=[
        "semicolon",
        "tab",
        "pipe",
        "leading-space",
        "trailing-space",
        "second-bom",
        "zero-width",
        "quotes",
        "case",
        "other",
    ],
)
def test_item_builder_says_what_a_header_without_the_key_column_has_and_what_to_do(
    header: list[str], hint: str
) -> None:
    # GIVEN a header that lacks the key column "id" the way real files do
    # WHEN items are built under it THEN the error names what it found and what to do
    with pytest.raises(HeaderError) as raised:
        ItemBuilder(header, key_columns=["id"], numeric_columns=[])
    message = str(raised.value)
    assert message.startswith(f"header lacks key columns ['id'], got {header!r}: ")
    assert hint in message
