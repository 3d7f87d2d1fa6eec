"""The built-in demo world: fixed ids, and the world in the JSON format (``example_world.json`` holds exactly it).

Two sources (orders-prod with 2 data nodes, users-prod with 3), three free targets (orders-restore-1, -3, -4),
one busy target (orders-restore-2, a long restore running), one unsuitable target (legacy-ddm, has data), and
free RDS instances for the data nodes (two of them unsuitable: too small, too old).
"""

from __future__ import annotations

from typing import Any

from bot.simulator.model import JOB_COMPLETED, JOB_RUNNING, RESTORE_JOB_NAME

# Fixed ids so docs, tests and demos can name them. orders-prod's first data node and orders-restore-1 reuse the
# ids of the seed page's example request; orders-prod's id is the one in the signer test vectors.
ORDERS_PROD_ID = "5f1e2d3c4b5a49687f6e5d4c3b2a1f00in09"
USERS_PROD_ID = "7c9e6679f4254b3a9c2d1e0f8a7b6c5din09"
ORDERS_RESTORE_1_ID = "2f0324a93859487eb5566d75951fcd2din09"
ORDERS_RESTORE_2_ID = "8d3f5e7a9b1c4d2e8f6a0b3c5d7e9f1ain09"
ORDERS_RESTORE_3_ID = "4a6c8e0f2b4d4f6a8c0e2a4c6e8a0c2ein09"
ORDERS_RESTORE_4_ID = "9e7c5a3f1d0b4e9c7a5f3d1b9e7c5a3fin09"
# Empty DDM instances ready to receive a restore: a demo can run several restores without a restart.
FREE_TARGET_IDS = (ORDERS_RESTORE_1_ID, ORDERS_RESTORE_3_ID, ORDERS_RESTORE_4_ID)
LEGACY_DDM_ID = "c4a1e9b27d3f4e8a9b0c1d2e3f4a5b6cin09"

ORDERS_RDS_0_ID = "f4e2949e9b9b4d60b42c89ed39bfe34cin01"
ORDERS_RDS_1_ID = "a3c6e8f0b2d44e6a8c0e2f4a6b8d0f2ein01"
USERS_RDS_IDS = (
    "b10c2d3e4f5a4b6c8d9e0f1a2b3c4d50in01",
    "b10c2d3e4f5a4b6c8d9e0f1a2b3c4d51in01",
    "b10c2d3e4f5a4b6c8d9e0f1a2b3c4d52in01",
)
# Free RDS instances usable as restore targets: all but 2 (too small) and 4 (too old) fit both sources, so the
# three free targets can each take a restore of orders-prod (2 data nodes each: 6 of the 7 that fit).
RESTORE_RDS_IDS = tuple(f"e0a1b2c3d4e54f6a8b9c0d1e2f3a4b5{n}in01" for n in range(9))
BUSY_RDS_IDS = ("d7e8f9a0b1c24d3e9f4a5b6c7d8e9f00in01", "d7e8f9a0b1c24d3e9f4a5b6c7d8e9f01in01")
LEGACY_RDS_ID = "9a8b7c6d5e4f4a3b9c2d1e0f9a8b7c6din01"
BUSY_JOB_ID = "3b8e1c5a7d9f4e2b8c6a0d4f2e8b1c7a"
HISTORY_JOB_ID = "6e5d4c3b2a1948f7a6e5d4c3b2a19f8e"

DAY = 86_400


def demo_world_json() -> dict[str, Any]:
    """The demo world in the JSON format (``example_world.json`` holds exactly this)."""

    def ddm(id_: str, name: str, *, created_days: int, **extra: Any) -> dict[str, Any]:
        return {"id": id_, "name": name, "created": -created_days * DAY, **extra}

    def rds(id_: str, name: str, ip: str, size: int, owner: str | None, version: str = "8.0.28") -> dict[str, Any]:
        return {
            "id": id_,
            "name": name,
            "engine": "MySQL",
            "version": version,
            "data_volume_size": size,
            "status": "ACTIVE",
            "vpc_name": "vpc-prod",
            "private_ip": ip,
            "ddm_instance_id": owner,
        }

    week_window = [{"start": -7 * DAY, "end": -300}]
    return {
        "ddm_instances": [
            ddm(
                ORDERS_PROD_ID,
                "orders-prod",
                created_days=400,
                schemas=["orders", "payments"],
                accounts=["orders_app"],
                restorable_windows=week_window,
            ),
            ddm(
                USERS_PROD_ID,
                "users-prod",
                created_days=300,
                schemas=["users"],
                accounts=["users_app"],
                restorable_windows=[{"start": -3 * DAY, "end": -300}],
            ),
            ddm(ORDERS_RESTORE_1_ID, "orders-restore-1", created_days=2),
            ddm(ORDERS_RESTORE_2_ID, "orders-restore-2", created_days=1),
            ddm(
                LEGACY_DDM_ID,
                "legacy-ddm",
                created_days=900,
                engine_version="3.0.8",
                schemas=["legacy"],
                accounts=["legacy_app"],
            ),
            ddm(ORDERS_RESTORE_3_ID, "orders-restore-3", created_days=1),
            ddm(ORDERS_RESTORE_4_ID, "orders-restore-4", created_days=1),
        ],
        "rds_instances": [
            rds(ORDERS_RDS_0_ID, "orders-rds-0", "192.168.0.11", 100, ORDERS_PROD_ID),
            rds(ORDERS_RDS_1_ID, "orders-rds-1", "192.168.0.12", 100, ORDERS_PROD_ID),
            *(
                rds(id_, f"users-rds-{n}", f"192.168.0.{21 + n}", 50, USERS_PROD_ID)
                for n, id_ in enumerate(USERS_RDS_IDS)
            ),
            rds(RESTORE_RDS_IDS[0], "restore-rds-0", "192.168.0.31", 100, None),
            rds(RESTORE_RDS_IDS[1], "restore-rds-1", "192.168.0.32", 200, None, version="8.0.32"),
            rds(RESTORE_RDS_IDS[2], "restore-rds-2", "192.168.0.33", 40, None),
            rds(RESTORE_RDS_IDS[3], "restore-rds-3", "192.168.0.34", 500, None),
            rds(RESTORE_RDS_IDS[4], "restore-rds-4", "192.168.0.35", 200, None, version="5.7.44"),
            *(rds(RESTORE_RDS_IDS[n], f"restore-rds-{n}", f"192.168.0.{31 + n}", 100, None) for n in range(5, 9)),
            rds(BUSY_RDS_IDS[0], "orders-restore-2-rds-0", "192.168.0.41", 100, None),
            rds(BUSY_RDS_IDS[1], "orders-restore-2-rds-1", "192.168.0.42", 100, None),
            rds(LEGACY_RDS_ID, "legacy-rds-0", "192.168.0.51", 200, LEGACY_DDM_ID, version="5.7.44"),
        ],
        "jobs": [
            {
                # The restore keeping orders-restore-2 busy: long enough to outlast any demo.
                "id": BUSY_JOB_ID,
                "name": RESTORE_JOB_NAME,
                "instance_id": ORDERS_RESTORE_2_ID,
                "created": -7200,
                "status": JOB_RUNNING,
                "duration_seconds": 6 * 3600,
                "end_time": None,
                "outcome": JOB_COMPLETED,
                "fail_reason": None,
                "source_instance_id": ORDERS_PROD_ID,
                "restore_time": None,
                "target_data_node_ids": list(BUSY_RDS_IDS),
            },
            {
                # History: the restore that gave legacy-ddm its data two days ago.
                "id": HISTORY_JOB_ID,
                "name": RESTORE_JOB_NAME,
                "instance_id": LEGACY_DDM_ID,
                "created": -2 * DAY,
                "status": JOB_COMPLETED,
                "duration_seconds": 150,
                "end_time": -2 * DAY + 150,
                "outcome": JOB_COMPLETED,
                "fail_reason": None,
                "source_instance_id": None,
                "restore_time": None,
                "target_data_node_ids": [LEGACY_RDS_ID],
            },
        ],
    }
