"""CsvToDynamoDbPipeline's split settings: what the submitter is told, what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Size, Stack
from aws_cdk.assertions import Template
from helpers import make_app

from constructs_batch import CsvToDynamoDbPipeline


def _submitter_environment(**kwargs: Any) -> dict[str, Any]:
    stack = Stack(make_app(), "Split")
    pipeline = CsvToDynamoDbPipeline(stack, "Pipeline", **kwargs)
    function = Template.from_stack(stack).to_json()["Resources"][
        stack.get_logical_id(pipeline.submitter.node.default_child)  # type: ignore[arg-type]
    ]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_pipeline_splits_objects_above_a_gibibyte_into_at_most_64_parts_by_default() -> None:
    # GIVEN a pipeline with the defaults
    # WHEN the stack is synthesized
    variables = _submitter_environment()
    # THEN the submitter splits objects above 1 GiB into at most 64 parts
    assert (variables["SPLIT_THRESHOLD_BYTES"], variables["MAX_PARTS"]) == (str(1 << 30), "64")


def test_pipeline_split_settings_reach_the_submitter_and_none_never_splits() -> None:
    # GIVEN a 256 MiB threshold with 8 parts, and no threshold at all
    # THEN the submitter gets them; without a threshold it is told 0 (never split)
    tuned = _submitter_environment(split_threshold=Size.mebibytes(256), max_parts=8)
    assert (tuned["SPLIT_THRESHOLD_BYTES"], tuned["MAX_PARTS"]) == (str(256 << 20), "8")
    assert _submitter_environment(split_threshold=None)["SPLIT_THRESHOLD_BYTES"] == "0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split_threshold": Size.bytes(100)}, "split_threshold must be at least 1024 bytes"),
        ({"max_parts": 1}, "max_parts must be between 2 and 10000, got 1"),
        ({"max_parts": 10_001}, "max_parts must be between 2 and 10000, got 10001"),
        ({"split_threshold": 1 << 30}, r"split_threshold must be Size \| None"),
    ],
)
def test_pipeline_refuses_split_settings_that_cannot_work(
    kwargs: dict[str, Any], message: str
) -> None:
    # GIVEN a split setting no load could use
    # WHEN the pipeline is built
    # THEN a ValueError names it
    with pytest.raises(ValueError, match=message):
        CsvToDynamoDbPipeline(Stack(make_app(), "Bad"), "Pipeline", **kwargs)
