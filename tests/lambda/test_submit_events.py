"""Parsing SQS message bodies carrying S3 event notifications (pure functions)."""

from __future__ import annotations

import json

import pytest
from submit_events import (
    MalformedMessageError,
    S3Object,
    decode_key,
    matches_input,
    parse_message,
)
from submit_testing import s3_body, s3_record

PREFIX = "incoming/"
SUFFIX = ".csv"


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("incoming/daily+report.csv", "incoming/daily report.csv"),
        ("incoming%2Fnested%2Ffile.csv", "incoming/nested/file.csv"),
        ("incoming/%C3%A9t%C3%A9+%E6%97%A5%E6%9C%AC.csv", "incoming/été 日本.csv"),
        ("incoming/100%25+sure%2B.csv", "incoming/100% sure+.csv"),
    ],
)
def test_decode_key_undoes_s3_url_encoding(raw: str, decoded: str) -> None:
    # GIVEN a key as S3 puts it in an event (form-encoded)
    # WHEN it is decoded
    # THEN spaces, slashes, literal + and %, and UTF-8 characters come back
    assert decode_key(raw) == decoded


def test_parse_message_decodes_the_key_of_a_record() -> None:
    # GIVEN an ObjectCreated record with an encoded key
    body = s3_body(s3_record("incoming/q1+sales%2C+%C3%A9t%C3%A9.csv", etag="abc"))

    # WHEN the message is parsed
    parsed = parse_message(body, prefix=PREFIX, suffix=SUFFIX)

    # THEN the object carries the decoded key, and the ETag names the version
    assert parsed.objects == (
        S3Object(bucket="landing", key="incoming/q1 sales, été.csv", version_id="", etag="abc"),
    )
    assert parsed.objects[0].object_id == "landing/incoming/q1 sales, été.csv#abc"


def test_parse_message_object_id_prefers_the_version_id() -> None:
    # GIVEN a record from a versioned bucket
    body = s3_body(s3_record("incoming/a.csv", etag="abc", version_id="v-123"))

    # WHEN it is parsed
    parsed = parse_message(body, prefix=PREFIX, suffix=SUFFIX)

    # THEN the ledger id uses the version id, not the ETag
    assert parsed.objects[0].object_id == "landing/incoming/a.csv#v-123"


def test_parse_message_ignores_the_s3_test_event() -> None:
    # GIVEN the message S3 sends when the notification is configured
    body = json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2025-01-31T12:00:00.000Z",
            "Bucket": "landing",
            "RequestId": "R",
            "HostId": "H",
        }
    )

    # WHEN it is parsed
    parsed = parse_message(body, prefix=PREFIX, suffix=SUFFIX)

    # THEN it is recognised and asks for nothing
    assert parsed.test_event
    assert parsed.objects == ()


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (s3_record("incoming/a.csv", event_name="ObjectRemoved:Delete"), "not an ObjectCreated"),
        (s3_record("other/a.csv"), "outside the input filter"),
        (s3_record("incoming/a.txt"), "upload it under 'incoming/' with a name ending in '.csv'"),
        (s3_record("Incoming/a.csv"), "outside the input filter"),
        (s3_record("incoming/a.csv.tmp"), "outside the input filter"),
    ],
)
def test_parse_message_ignores_records_outside_the_input(
    record: dict[str, object], reason: str
) -> None:
    # GIVEN a record for another event type, or a key outside incoming/*.csv
    body = s3_body(record)

    # WHEN it is parsed
    parsed = parse_message(body, prefix=PREFIX, suffix=SUFFIX)

    # THEN it asks for no job and says why
    assert parsed.objects == ()
    assert len(parsed.ignored) == 1
    assert reason in parsed.ignored[0].reason


def test_parse_message_keeps_every_record_in_order() -> None:
    # GIVEN one message with several records, one of them outside the filter
    body = s3_body(
        s3_record("incoming/b.csv"),
        s3_record("elsewhere/x.csv"),
        s3_record("incoming/a.csv"),
    )

    # WHEN it is parsed
    parsed = parse_message(body, prefix=PREFIX, suffix=SUFFIX)

    # THEN the matching objects come out in record order
    assert [o.key for o in parsed.objects] == ["incoming/b.csv", "incoming/a.csv"]
    assert [i.key for i in parsed.ignored] == ["elsewhere/x.csv"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "body is empty"),
        ("not json {", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"hello": "world"}', "no Records list"),
        ('{"Records": []}', "no Records list"),
        ('{"Records": ["x"]}', r"Records\[0\]: record must be an object"),
        (s3_body({"eventName": "ObjectCreated:Put"}), r"s3 must be an object"),
        (
            s3_body({**s3_record("incoming/a.csv"), "eventSource": "aws:sqs"}),
            "eventSource must be 'aws:s3'",
        ),
        (
            s3_body(s3_record("incoming/a.csv"), {"eventName": "ObjectCreated:Put", "s3": {}}),
            r"Records\[1\]: s3.bucket must be an object",
        ),
        (s3_body(s3_record("incoming/%FF.csv")), "not URL-encoded UTF-8"),
        (s3_body(s3_record("incoming/a.csv", etag="")), "neither versionId nor eTag"),
    ],
)
def test_parse_message_rejects_a_malformed_body(body: str | None, reason: str) -> None:
    # GIVEN a body that is not an S3 event we can act on
    # WHEN it is parsed
    # THEN it is malformed as a whole, with a reason naming what is wrong
    with pytest.raises(MalformedMessageError, match=reason):
        parse_message(body, prefix=PREFIX, suffix=SUFFIX)


@pytest.mark.parametrize(
    ("key", "prefix", "suffix", "expected"),
    [
        ("incoming/a.csv", "incoming/", ".csv", True),
        ("incoming/.csv", "incoming/", ".csv", True),
        ("incoming.csv", "incoming.csv", ".csv", False),
        ("anything", "", "", True),
        ("Incoming/a.csv", "incoming/", ".csv", False),
        ("incoming/a.CSV", "incoming/", ".csv", True),
        ("incoming/a.Csv", "incoming/", ".csv", True),
        ("incoming/a.csv.gz", "incoming/", ".csv", False),
        ("incoming/.CSV", "incoming/", ".csv", True),
    ],
)
def test_matches_input_requires_prefix_and_suffix(
    key: str, prefix: str, suffix: str, expected: bool
) -> None:
    # GIVEN a key and an input filter
    # WHEN it is matched
    # THEN both must hold without overlapping: the prefix as written, the suffix in any case
    assert matches_input(key, prefix=prefix, suffix=suffix) is expected
