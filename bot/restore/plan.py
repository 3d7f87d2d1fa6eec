"""RestorePlan: exactly what will be restored, and its fingerprint.

The fingerprint is the identity approvals bind to: sha256 over the project, the source instance (it is part of
the URL), the canonical restore body, the environment's name and the urgent path's incident (when set: plans
made before environments, and in the settings' one environment, hash as they always did). Names are for people and are not
part of it. A request's fingerprint also covers the approval flow frozen into it (bot.restore.request).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.restore.ids import short_ids


class NamedRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.id


class DataNodeMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: NamedRef
    target: NamedRef


class RestorePlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    project_id: str = ""
    region: str = ""
    environment: str = ""  # the environment's name; "" for the settings' one environment
    source: NamedRef
    target: NamedRef
    restore_time_ms: int = Field(gt=0)
    mappings: tuple[DataNodeMapping, ...]
    reason: str = Field("", max_length=500)
    # The break-glass path: the incident it is for; "" for a normal request. Part of the fingerprint when set.
    urgent_incident: str = Field("", max_length=100)
    # A drill's request: the drill's name (its card says 🧪 Drill, its thread ends with the drill report).
    drill: str = Field("", max_length=50)

    def restore_body(self) -> dict[str, Any]:
        """The body of POST .../backups/recovery, in the seed's shape."""
        return {
            "source": {"restore_time": self.restore_time_ms},
            "target": {"instance_id": self.target.id},
            "data_node_relations": [
                {"source_instance_id": m.source.id, "target_instance_id": m.target.id} for m in self.mappings
            ],
        }

    def fingerprint(self, *, flow: dict[str, Any] | None = None) -> str:
        """The plan's identity; with `flow` (bot.restore.flow.Flow.identity), the request's: the approval flow
        frozen into it is part of what its approvals bind to."""
        return fingerprint_of(
            self.project_id,
            self.source.id,
            self.restore_body(),
            environment=self.environment,
            urgent_incident=self.urgent_incident,
            flow=flow,
        )

    def short_ids(self) -> dict[str, str]:
        """Every id of the plan as people see it (bot.restore.ids.short_ids): no two alike, names aside."""
        nodes = [ref.id for m in self.mappings for ref in (m.source, m.target)]
        return short_ids([self.source.id, self.target.id, *nodes])

    def problems(self) -> list[tuple[str, str]]:
        """What makes this plan impossible on its face, as (field, message); empty when fine."""
        found: list[tuple[str, str]] = []
        if self.target.id == self.source.id:
            found.append(("target_instance", "The target must be another DDM instance than the source."))
        if not self.mappings:
            found.append(("dn_map", "Map at least one source data node to a target data node."))
        seen_targets: dict[str, str] = {}
        seen_sources: set[str] = set()
        for mapping in self.mappings:
            if mapping.source.id in seen_sources:
                found.append((f"dn_map:{mapping.source.id}", f"{mapping.source.label} is mapped twice."))
            seen_sources.add(mapping.source.id)
            earlier = seen_targets.get(mapping.target.id)
            if earlier is not None:
                found.append(
                    (
                        f"dn_map:{mapping.source.id}",
                        f"{mapping.target.label} is already the target of {earlier}; use each target once.",
                    )
                )
            seen_targets[mapping.target.id] = mapping.source.label
        return found


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def fingerprint_of(
    project_id: str,
    source_instance_id: str,
    body: dict[str, Any],
    *,
    environment: str = "",
    urgent_incident: str = "",
    flow: dict[str, Any] | None = None,
) -> str:
    identity: dict[str, Any] = {"project_id": project_id, "instance_id": source_instance_id, "body": body}
    if environment:
        identity["environment"] = environment
    if urgent_incident:
        identity["urgent_incident"] = urgent_incident
    if flow is not None:
        identity["flow"] = flow
    material = canonical_json(identity)
    return hashlib.sha256(material.encode("ascii")).hexdigest()


def short_fingerprint(fingerprint: str) -> str:
    return f"{fingerprint[:4]}…{fingerprint[-4:]}"
