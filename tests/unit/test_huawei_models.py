"""DDM answers are read tolerantly (optional fields: missing, null and "" all mean unset; unknown fields ignored)
and strictly where a decision rests on the value (ids, job status, window bounds, available flags)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pydantic import BaseModel, ValidationError

from bot.huawei import models
from bot.huawei.auth import AkSkAuth
from bot.huawei.ddm import DdmClient
from bot.simulator import RunningSimulator, SimulatorCredentials
from bot.simulator.world import BUSY_JOB_ID, ORDERS_RESTORE_2_ID
from tests.support.http import local_http

ANSWER_MODELS: list[type[BaseModel]] = sorted(
    (
        m
        for m in vars(models).values()
        if isinstance(m, type) and issubclass(m, models._Answer) and m is not models._Answer
    ),
    key=lambda m: m.__name__,
)

# The smallest valid answer of each model: its required fields only. Every optional field is added by the tests.
WHEN = "2025-05-20T09:40:40+0000"
MINIMAL: dict[type[BaseModel], dict[str, Any]] = {
    models.DdmInstance: {"id": "a" * 32 + "in09", "name": "orders-prod"},
    models.InstancePage: {},
    models.TimeWindow: {"start_time": WHEN, "end_time": WHEN},
    models.RestorableWindows: {},
    models.RestorableInstance: {"instance_id": "b" * 32 + "in09", "instance_name": "t", "available": True},
    models.RestorableInstancePage: {},
    models.RelatedDataNode: {"instance_id": "c" * 32 + "in01", "instance_name": "dn"},
    models.RelatedDataNodes: {},
    models.TargetDataNode: {"instance_id": "d" * 32 + "in01", "instance_name": "dn", "available": False},
    models.TargetDataNodes: {},
    models.RecoveryAccepted: {"job_id": "e" * 32},
    models.JobInstance: {},
    models.Job: {"id": "f" * 32, "status": "Running"},
    models.JobAnswer: {"job": {"id": "f" * 32, "status": "Running"}},
    models.JobPage: {},
    models.InstanceNode: {},
    models.InstanceDetails: {"id": "a" * 32 + "in09", "status": "RUNNING"},
    models.UsedRds: {"id": "c" * 32 + "in01"},
    models.LogicalDatabase: {},
    models.DatabasePage: {},
}

# Where a bad value must be refused, not read as unset: the values decisions rest on.
DECISIVE = [
    (models.DdmInstance, "id"),
    (models.TimeWindow, "start_time"),
    (models.TimeWindow, "end_time"),
    (models.RestorableInstance, "instance_id"),
    (models.RestorableInstance, "available"),
    (models.RelatedDataNode, "instance_id"),
    (models.TargetDataNode, "instance_id"),
    (models.TargetDataNode, "available"),
    (models.RecoveryAccepted, "job_id"),
    (models.Job, "id"),
    (models.Job, "status"),
    (models.InstanceDetails, "id"),
    (models.InstanceDetails, "status"),
    (models.UsedRds, "id"),
]

UNSET_FORMS = {"missing": ..., "null": None, "empty string": "", "blank string": "  "}


def optional_fields() -> list[tuple[type[BaseModel], str]]:
    return [
        (model, name) for model in ANSWER_MODELS for name, info in model.model_fields.items() if not info.is_required()
    ]


def test_every_answer_model_has_an_example() -> None:
    # A new answer model must get a minimal example here; its optional fields are then tested automatically.
    assert set(MINIMAL) == set(ANSWER_MODELS)
    assert len(optional_fields()) > 30
    for model, example in MINIMAL.items():
        model.model_validate_json(json.dumps(example))


@pytest.mark.parametrize("form", list(UNSET_FORMS))
@pytest.mark.parametrize(("model", "field"), optional_fields(), ids=lambda x: getattr(x, "__name__", x))
def test_an_optional_field_may_be_unset_in_every_form(model: type[BaseModel], field: str, form: str) -> None:
    data = dict(MINIMAL[model])
    data.pop(field, None)
    if UNSET_FORMS[form] is not ...:
        data[field] = UNSET_FORMS[form]
    parsed = model.model_validate_json(json.dumps(data))
    assert getattr(parsed, field) == model.model_fields[field].get_default(call_default_factory=True)


@pytest.mark.parametrize("model", ANSWER_MODELS, ids=lambda m: m.__name__)
def test_unknown_fields_are_ignored(model: type[BaseModel]) -> None:
    parsed = model.model_validate_json(json.dumps({**MINIMAL[model], "added_in_2027": {"x": [1]}, "region": ""}))
    assert not hasattr(parsed, "added_in_2027")


@pytest.mark.parametrize(("model", "field"), DECISIVE, ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize("value", [..., None, ""], ids=["missing", "null", "empty"])
def test_decisive_fields_stay_strict(model: type[BaseModel], field: str, value: Any) -> None:
    data = dict(MINIMAL[model])
    data.pop(field)
    if value is not ...:
        data[field] = value
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(data))
    assert caught.value.errors()[0]["loc"] == (field,)


def test_a_running_job_as_huawei_writes_it() -> None:
    answer = models.JobAnswer.model_validate_json(
        json.dumps(
            {
                "job": {
                    "id": "f" * 32,
                    "name": "RestoreInstance",
                    "status": "Running",
                    "created_time": "2025-05-20T09:40:40+0800",
                    "end_time": "",
                    "process": "60%",
                    "fail_reason": "",
                    "instance": {"id": "b" * 32 + "in09", "name": "orders-restore-1"},
                    "job_type": "",
                }
            }
        )
    )
    job = answer.job
    assert job.end_time is None and job.fail_reason is None and job.percent == 60 and not job.is_finished
    assert job.created_time == datetime(2025, 5, 20, 1, 40, 40, tzinfo=UTC)
    assert job.target_instance_id == "b" * 32 + "in09"


# ---- through the real client against the simulator --------------------------------------------------------------

PROJECT = "0123456789abcdef0123456789abcdef"
CREDS = SimulatorCredentials(project_id=PROJECT, ak="TESTAKEXAMPLE0000000", sk="test-secret-key")


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with RunningSimulator(credentials=CREDS) as running:
        yield running


async def test_running_job_with_empty_end_time_parses_through_the_client(sim: RunningSimulator) -> None:
    auth = AkSkAuth(ak=CREDS.ak or "", sk=CREDS.sk or "", project_id=PROJECT)
    async with DdmClient(endpoint=sim.base_url, project_id=PROJECT, auth=auth) as client:
        job = await client.job(BUSY_JOB_ID)
        listed = await client.jobs(datetime.now(UTC) - timedelta(hours=3))
    assert job.status == "Running" and job.end_time is None and job.fail_reason is None
    assert job.target_instance_id == ORDERS_RESTORE_2_ID and job.percent is not None
    assert [j.id for j in listed if j.status == "Running"] == [BUSY_JOB_ID]
    # What the client read was the simulator's "" (not null, not missing): the case this test is about.
    async with local_http(base_url=sim.base_url, auth=auth) as raw:
        wire = (await raw.get(f"/v3/{PROJECT}/jobs/{BUSY_JOB_ID}")).json()["job"]
    assert wire["end_time"] == "" and wire["fail_reason"] == "" and wire["status"] == "Running"


def test_instance_details_read_as_ddm_writes_them() -> None:
    from bot.huawei.models import DatabasePage, InstanceDetails

    details = InstanceDetails.model_validate(
        {
            "id": "tgtin09",
            "status": "RUNNING",
            "access_ip": "",
            "access_port": 5066,  # the SDK says string; a number is read as the string it stands for
            "engine_version": None,
            "nodes": [{"status": "RUNNING", "port": 5066, "ip": "10.0.0.5"}, {}],
            "something_new": {"x": 1},
        }
    )
    assert (details.access_ip, details.access_port, details.engine_version) == (None, "5066", None)
    assert details.nodes[0].port == "5066" and details.nodes[1].status is None
    page = DatabasePage.model_validate(
        {"databases": [{"name": "shop", "used_rds": [{"id": "t0in01", "name": None, "status": "ACTIVE"}]}], "total": 1}
    )
    assert page.databases[0].used_rds[0].id == "t0in01" and page.databases[0].used_rds[0].name is None
