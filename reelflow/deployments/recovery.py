"""Runs that survive lost workers: crash zombie runs, then resubmit crashed ones.

A worker host that dies takes its flow-run process with it; nothing may report a final state
and the run would stay `Running` for ever. Flow runs emit heartbeats (PREFECT_FLOWS_HEARTBEAT_
FREQUENCY); a proactive automation marks a run `Crashed` when they stop. Resubmission is not an
automation: the server holds a `Crashed` event until the event it follows arrives, and that
event died with the process, so a reactive automation may never fire. The API's lifecycle relay
reads Prefect's event stream directly and calls `resubmit` - the same run id goes back to
`Scheduled`, so viewers keep following it, and every finished step comes from the cache. The
flow refuses to start after `MAX_ATTEMPTS`, which bounds the loop for runs that always crash.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

MAX_ATTEMPTS = 3
ZOMBIE = "reelflow: crash runs that stopped sending heartbeats"
TERMINAL_EVENTS = {
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
}


def recovery_automations(heartbeat_s: int) -> list[AutomationCore]:
    """The zombie automation, for flow runs tagged `reelflow` beating every `heartbeat_s` s."""
    reelflow_runs = ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"})
    tagged = ResourceSpecification(
        {"prefect.resource.id": "prefect.tag.reelflow", "prefect.resource.role": "tag"}
    )
    zombie = AutomationCore(
        name=ZOMBIE,
        description="Three missed heartbeats mean the run's process is gone.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *TERMINAL_EVENTS},
            match=reelflow_runs,
            match_related=tagged,
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=3 * heartbeat_s),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {3 * heartbeat_s} s: its worker was lost",
            )
        ],
    )
    return [zombie]


async def ensure_recovery(client: PrefectClient, *, heartbeat_s: int) -> None:
    """Create (or replace, so settings changes apply) the recovery automation."""
    for automation in recovery_automations(heartbeat_s):
        for existing in await client.read_automations_by_name(automation.name):
            await client.delete_automation(existing.id)
        await client.create_automation(automation)


async def resubmit(client: PrefectClient, flow_run_id) -> bool:
    """Put a crashed reel run back in the queue (same id); False if it is not ours to retry.

    Only runs still `Crashed`, created from a deployment (a worker must pick them up again)
    and below `MAX_ATTEMPTS`. Callers de-duplicate across processes (one resubmission per run
    and attempt); this function only checks the run itself.
    """
    from prefect.states import Scheduled

    run = await client.read_flow_run(flow_run_id)
    if run.state is None or run.state.type != StateType.CRASHED or run.deployment_id is None:
        return False
    if "reelflow" not in (run.tags or []) or (run.run_count or 0) >= MAX_ATTEMPTS:
        return False
    result = await client.set_flow_run_state(
        flow_run_id,
        Scheduled(
            name="Resubmitted", message="resubmitted after a crash; finished steps are cached"
        ),
        force=True,
    )
    return result.status.value == "ACCEPT"
