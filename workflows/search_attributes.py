"""Search attributes that make runs findable in the Temporal UI and `temporal workflow list`."""

from temporalio.common import SearchAttributeKey

RUN_ID = SearchAttributeKey.for_keyword("SlipwayRunId")
PROJECT_ID = SearchAttributeKey.for_keyword("SlipwayProjectId")
RUN_STATUS = SearchAttributeKey.for_keyword("SlipwayRunStatus")

ALL = (RUN_ID, PROJECT_ID, RUN_STATUS)
