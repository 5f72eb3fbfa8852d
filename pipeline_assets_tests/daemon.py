"""A real `dagster dev` (webserver and daemon) for tests, and a small GraphQL client that launches what the UI does.

The client sends the UI's own requests (read from the webserver's bundle, `ui-core/src/...`): a partition range is
`launchPartitionBackfill` with `assetSelection` and `partitionNames` (the asset-backfill path of
LaunchAssetChoosePartitionsDialog), which the backfill daemon splits into runs by each asset's BackfillPolicy; one
partition is the Materialize button's `launchPipelineExecution` on the assets' common job, with the tags and run
config the server gives for that partition (ConfigPartitionForAssetJobQuery) plus `dagster/from_ui`. Waits read
runs from the instance itself, and every wait that runs out fails with the last answer and the tail of the log."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import dagster as dg
import pytest

# run_queue.dequeue_interval_seconds (default 5) is the only daemon interval dagster.yaml sets in 1.13
# (QueuedRunCoordinator.config_type()); the backfill loop (30 s), sensor loop (5 s) and scheduler (each minute)
# are fixed in dagster/_daemon.
DAGSTER_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
run_queue:
  dequeue_interval_seconds: 1
"""
UI_TAGS = [{"key": "dagster/from_ui", "value": "true"}]  # ui-core/src/launchpad/uiExecutionTags.tsx
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
PYTHON_ERROR = "... on PythonError { message stack cause { message cause { message cause { message } } } }"
ERRORS = f"__typename ... on Error {{ message }} {PYTHON_ERROR}"


class GraphQLError(AssertionError):
    """The server refused a request, or answered with an error type (PythonError, InvalidStepError, …)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """Stop `dagster dev` and everything it spawned (webserver, daemon, code servers, runs): TERM, then KILL."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader so the group can empty
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {proc.returncode}: {log.read_text()[-2000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"dagster dev did not answer on {url} within {timeout:.0f}s: {log.read_text()[-2000:]}", pytrace=False)


def python_error(error: dict) -> str:
    """A PythonError's message, then its causes' (the user code's own error comes last), then its stack's end."""
    stack, messages = "".join(error.get("stack") or [])[-3000:], []
    while error:
        messages.append(error["message"].strip())
        error = error.get("cause")
    return " <- ".join(messages) + (f"\n{stack}" if stack else "")


def asset_key_input(key: dg.AssetKey) -> dict:
    return {"path": list(key.path)}


@dataclass
class Backfill:
    """A finished backfill as the server reports it, with its runs as the instance holds them."""

    backfill_id: str
    status: str
    error: str | None
    runs: list[dg.DagsterRun]


@dataclass
class DagsterDev:
    """A running `dagster dev` and a GraphQL client for it."""

    url: str
    dagster_home: Path
    log: Path
    proc: subprocess.Popen
    location: str = ""
    repository: str = ""

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """POST ``query`` to /graphql; its ``data``, or GraphQLError with the server's errors."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:  # refused queries come back as 400, PythonErrors as 500, with a body
            status, text = exc.code, exc.read().decode()
        except OSError as exc:
            self.fail(f"dagster dev at {self.url} is unreachable: {exc}")
        try:
            answer = json.loads(text)
        except ValueError:
            raise GraphQLError(f"HTTP {status} from {self.url}/graphql: {text[:2000]}") from None
        if answer.get("errors"):
            raise GraphQLError("; ".join(e.get("message", str(e)) for e in answer["errors"]))
        return answer["data"]

    def expect(self, answer: dict, typename: str, what: str) -> dict:
        """``answer`` when it is a ``typename``; else GraphQLError naming the error type and its message."""
        if answer.get("__typename") == typename:
            return answer
        detail = python_error(answer) if answer.get("__typename") == "PythonError" else answer.get("message")
        raise GraphQLError(f"{what}: {answer.get('__typename')}: {detail or json.dumps(answer)[:2000]}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def fail(self, message: str) -> NoReturn:
        pytest.fail(f"{message}\n--- dagster dev log, last lines ({self.log}) ---\n{self.log_tail()}", pytrace=False)

    @contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """The instance `dagster dev` records runs in, read directly."""
        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            yield instance

    def wait_for_location(self, timeout: float = 240.0) -> None:
        """Wait until the code location is loaded; fail with its load error (a bad config, an import error)."""
        query = f"""{{ workspaceOrError {{ __typename ... on Workspace {{ locationEntries {{ name loadStatus
            locationOrLoadError {{ __typename ... on RepositoryLocation {{ name repositories {{ name }} }}
            {PYTHON_ERROR} }} }} }} {PYTHON_ERROR} }} }}"""
        deadline, answer = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            answer = self.expect(self.graphql(query)["workspaceOrError"], "Workspace", "workspaceOrError")
            entries = [e for e in answer["locationEntries"] if e["loadStatus"] == "LOADED"]
            if entries:
                (entry,) = entries
                location = entry["locationOrLoadError"]
                if location["__typename"] != "RepositoryLocation":
                    self.fail(f"code location {entry['name']} failed to load: {python_error(location)}")
                self.location, self.repository = location["name"], location["repositories"][0]["name"]
                return
            time.sleep(1)
        self.fail(f"the code location did not load within {timeout:.0f}s; last answer: {json.dumps(answer)[:2000]}")

    def wait_for_daemon(self, timeout: float = 180.0) -> None:
        """Wait until every required daemon (backfills, schedules, sensors, run queue…) has a healthy heartbeat."""
        query = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"
        deadline, statuses = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            statuses = self.graphql(query)["instance"]["daemonHealth"]["allDaemonStatuses"]
            if all(s["healthy"] for s in statuses if s["required"]):
                return
            time.sleep(2)
        self.fail(f"the daemons were not healthy within {timeout:.0f}s: {statuses}")

    def reload_location(self) -> None:
        """Reload the code location (the UI's Reload button): the code server reads the config file again."""
        mutation = f"""mutation Reload($location: String!) {{
            reloadRepositoryLocation(repositoryLocationName: $location) {{ {ERRORS} }} }}"""
        answer = self.graphql(mutation, {"location": self.location})["reloadRepositoryLocation"]
        self.expect(answer, "WorkspaceLocationEntry", "reloadRepositoryLocation")
        self.wait_for_location()

    def _repository_selector(self) -> dict:
        return {"repositoryLocationName": self.location, "repositoryName": self.repository}

    def instigators(self) -> dict[str, dict]:
        """Every schedule and sensor of the repository by name: its kind, cron (schedules) and status."""
        query = f"""query Instigators($selector: RepositorySelector!) {{
            repositoryOrError(repositorySelector: $selector) {{ {ERRORS} ... on Repository {{
              schedules {{ name cronSchedule executionTimezone scheduleState {{ id status }} }}
              sensors {{ name sensorState {{ id status }} }} }} }} }}"""
        answer = self.graphql(query, {"selector": self._repository_selector()})["repositoryOrError"]
        repository = self.expect(answer, "Repository", "repositoryOrError")
        found = {
            s["name"]: {
                "kind": "schedule",
                "cron": s["cronSchedule"],
                "timezone": s["executionTimezone"],
                "state": s["scheduleState"],
            }
            for s in repository["schedules"]
        }
        found.update({s["name"]: {"kind": "sensor", "state": s["sensorState"]} for s in repository["sensors"]})
        return found

    def start_sensor(self, name: str) -> str:
        """Switch sensor ``name`` on, as its toggle in the UI does; return its status."""
        mutation = f"""mutation StartSensor($selector: SensorSelector!) {{ startSensor(sensorSelector: $selector) {{
            {ERRORS} ... on Sensor {{ sensorState {{ id status }} }} }} }}"""
        selector = {**self._repository_selector(), "sensorName": name}
        answer = self.graphql(mutation, {"selector": selector})["startSensor"]
        return self.expect(answer, "Sensor", f"startSensor {name}")["sensorState"]["status"]

    def stop_sensor(self, name: str) -> str:
        """Switch sensor ``name`` off (the UI's StopRunningSensor, by its state id); return its status."""
        state_id = self.instigators()[name]["state"]["id"]
        mutation = f"""mutation StopSensor($id: String!) {{ stopSensor(id: $id) {{
            {ERRORS} ... on StopSensorMutationResult {{ instigationState {{ status }} }} }} }}"""
        answer = self.graphql(mutation, {"id": state_id})["stopSensor"]
        return self.expect(answer, "StopSensorMutationResult", f"stopSensor {name}")["instigationState"]["status"]

    def start_schedule(self, name: str) -> str:
        """Switch schedule ``name`` on, as its toggle in the UI does; return its status."""
        mutation = f"""mutation StartSchedule($selector: ScheduleSelector!) {{
            startSchedule(scheduleSelector: $selector) {{
              {ERRORS} ... on ScheduleStateResult {{ scheduleState {{ id status }} }} }} }}"""
        selector = {**self._repository_selector(), "scheduleName": name}
        answer = self.graphql(mutation, {"selector": selector})["startSchedule"]
        return self.expect(answer, "ScheduleStateResult", f"startSchedule {name}")["scheduleState"]["status"]

    def launch_backfill(self, asset_keys: Iterable[dg.AssetKey], partition_names: list[str]) -> str:
        """Backfill ``partition_names`` of ``asset_keys`` as the partitions dialog does for an asset selection
        (``launchPartitionBackfill`` with assetSelection and partitionNames); return the backfill id."""
        mutation = f"""mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {{
            launchPartitionBackfill(backfillParams: $backfillParams) {{
              {ERRORS} ... on LaunchBackfillSuccess {{ backfillId }} ... on InvalidStepError {{ invalidStepKey }}
              ... on InvalidOutputError {{ stepKey invalidOutputName }} }} }}"""
        params = {
            "tags": UI_TAGS,
            "assetSelection": [asset_key_input(k) for k in asset_keys],
            "partitionNames": partition_names,
            "fromFailure": False,
        }
        answer = self.graphql(mutation, {"backfillParams": params})["launchPartitionBackfill"]
        return self.expect(answer, "LaunchBackfillSuccess", "launchPartitionBackfill")["backfillId"]

    def launch_partition_run(self, asset_keys: Iterable[dg.AssetKey], partition: str) -> str:
        """Materialize ``partition`` of ``asset_keys`` as the Materialize button does for one partition: a run of the
        assets' common job (the first of the first asset's jobs that all have, like ``getCommonJob``) with the
        partition's tags and run config from the server, the checks of that job, and ``dagster/from_ui``."""
        keys = [asset_key_input(k) for k in asset_keys]
        nodes = self._asset_nodes(keys)
        job = next((j for j in nodes[0]["jobNames"] if all(j in n["jobNames"] for n in nodes)), None)
        if job is None:
            raise GraphQLError(f"{keys}: no job holds all these assets: {[n['jobNames'] for n in nodes]}")
        tags, run_config = self._partition_tags_and_config(job, partition, keys)
        checks = [
            {"name": c["name"], "assetKey": n["assetKey"]}
            for n in nodes
            for c in (n["assetChecksOrError"].get("checks") or [])
            if not c["jobNames"] or job in c["jobNames"]
        ]
        params = {
            "mode": "default",
            "executionMetadata": {"tags": [t for t in tags if t["key"] != UI_TAGS[0]["key"]] + UI_TAGS},
            "runConfigData": run_config,
            "selector": {
                **self._repository_selector(),
                "pipelineName": job,
                "assetSelection": keys,
                "assetCheckSelection": checks,
            },
        }
        mutation = f"""mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {{
            launchPipelineExecution(executionParams: $executionParams) {{
              {ERRORS} ... on LaunchRunSuccess {{ run {{ id pipelineName }} }}
              ... on RunConfigValidationInvalid {{ errors {{ message }} }} }} }}"""
        answer = self.graphql(mutation, {"executionParams": params})["launchPipelineExecution"]
        if answer.get("__typename") == "RunConfigValidationInvalid":
            raise GraphQLError(f"launchPipelineExecution: invalid run config: {answer['errors']}")
        return self.expect(answer, "LaunchRunSuccess", "launchPipelineExecution")["run"]["id"]

    def _asset_nodes(self, keys: list[dict]) -> list[dict]:
        query = """query LaunchAssetLoader($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
            assetKey { path } jobNames repository { name location { name } }
            assetChecksOrError { __typename ... on AssetChecks { checks { name jobNames } } } } }"""
        nodes = self.graphql(query, {"keys": keys})["assetNodes"]
        by_key = {tuple(n["assetKey"]["path"]): n for n in nodes}
        missing = [k["path"] for k in keys if tuple(k["path"]) not in by_key]
        if missing:
            raise GraphQLError(f"assetNodes: no such assets {missing} (the server has {sorted(by_key)})")
        return [by_key[tuple(k["path"])] for k in keys]

    def _partition_tags_and_config(self, job: str, partition: str, keys: list[dict]) -> tuple[list[dict], str]:
        """The tags and run config the server gives ``job`` for ``partition`` (ConfigPartitionForAssetJobQuery)."""
        query = f"""query ConfigPartitionForAssetJobQuery($params: PipelineSelector!, $partition: String!,
              $keys: [AssetKeyInput!]!) {{
            pipelineOrError(params: $params) {{ {ERRORS} ... on Pipeline {{
              partition(partitionName: $partition, selectedAssetKeys: $keys) {{
                runConfigOrError {{ __typename ... on PartitionRunConfig {{ yaml }} {PYTHON_ERROR} }}
                tagsOrError {{ __typename ... on PartitionTags {{ results {{ key value }} }} {PYTHON_ERROR} }}
              }} }} }} }}"""
        variables = {
            "params": {**self._repository_selector(), "pipelineName": job},
            "partition": partition,
            "keys": keys,
        }
        pipeline = self.expect(self.graphql(query, variables)["pipelineOrError"], "Pipeline", f"pipelineOrError {job}")
        found = pipeline["partition"]
        tags = self.expect(found["tagsOrError"], "PartitionTags", f"{job} partition {partition} tags")["results"]
        config = self.expect(found["runConfigOrError"], "PartitionRunConfig", f"{job} partition {partition} run config")
        return tags, config["yaml"]

    def wait_backfill(self, backfill_id: str, timeout: float = 300.0) -> Backfill:
        """Wait until the backfill is over (COMPLETED_SUCCESS, FAILED, …) and every run it launched has finished."""
        query = f"""query Backfill($id: String!) {{ partitionBackfillOrError(backfillId: $id) {{ {ERRORS}
            ... on PartitionBackfill {{ id status numPartitions error {{ message }} }} }} }}"""
        deadline, answer = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            answer = self.graphql(query, {"id": backfill_id})["partitionBackfillOrError"]
            backfill = self.expect(answer, "PartitionBackfill", f"partitionBackfillOrError {backfill_id}")
            if backfill["status"] in BACKFILL_DONE:
                runs = self.wait_runs(
                    dg.RunsFilter(tags={"dagster/backfill": backfill_id}), deadline - time.monotonic(), count=0
                )
                return Backfill(backfill_id, backfill["status"], (backfill["error"] or {}).get("message"), runs)
            time.sleep(2)
        with self.instance() as instance:
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        self.fail(
            f"backfill {backfill_id} did not finish within {timeout:.0f}s; last answer: {json.dumps(answer)}; "
            f"its runs: {[(r.run_id[:8], r.status.value) for r in runs]}"
        )
        return None

    def wait_runs(self, runs_filter: dg.RunsFilter, timeout: float = 300.0, count: int = 1) -> list[dg.DagsterRun]:
        """Wait until at least ``count`` runs match ``runs_filter`` and all of them have finished; oldest first."""
        deadline, runs = time.monotonic() + max(timeout, 0.0), []
        while True:
            with self.instance() as instance:
                runs = list(reversed(instance.get_runs(runs_filter)))
            if len(runs) >= count and all(r.is_finished for r in runs):
                return runs
            if time.monotonic() > deadline:
                break
            time.sleep(2)
        self.fail(
            f"runs matching {runs_filter} did not finish within {timeout:.0f}s (wanted at least {count}): "
            f"{[(r.run_id[:8], r.job_name, r.status.value, dict(r.tags)) for r in runs]}"
        )
        return None

    def wait_run(self, run_id: str, timeout: float = 300.0) -> dg.DagsterRun:
        (run,) = self.wait_runs(dg.RunsFilter(run_ids=[run_id]), timeout)
        return run

    def failures(self, runs: Iterable[dg.DagsterRun]) -> list[str]:
        """One line per failed run: its id and the message of its first step or run failure."""
        lines = []
        with self.instance() as instance:
            for run in runs:
                if run.status == dg.DagsterRunStatus.SUCCESS:
                    continue
                events = [e for e in instance.all_logs(run.run_id) if e.is_dagster_event and e.dagster_event.is_failure]
                message = events[0].dagster_event.message if events else "no failure event"
                if events and events[0].dagster_event.is_step_failure:
                    error = events[0].dagster_event.step_failure_data.error
                    while error is not None and error.cause is not None:  # the user code's own exception is last
                        error = error.cause
                    message = error.message.strip() if error else message
                lines.append(f"run {run.run_id[:8]} {run.status.value}: {message}")
        return lines


def write_dagster_home(dagster_home: Path) -> None:
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)


@contextmanager
def dagster_dev(config: Path, root: Path, timeout: float = 240.0) -> Iterator[DagsterDev]:
    """`dagster dev -m pipeline_assets.definitions` on a free loopback port, reading ``config``, with its instance
    in ``root``/dagster_home and the project's home in ``root``/home; stopped (with all it spawned) on exit."""
    dagster_home, port = root / "dagster_home", free_port()
    write_dagster_home(dagster_home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "PIPELINE_ASSETS_CONFIG": str(config),
        "PIPELINE_ASSETS_HOME": str(root / "home"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "-m",
        "pipeline_assets.definitions",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    log = root / "dagster_dev.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = DagsterDev(f"http://127.0.0.1:{port}", dagster_home, log, proc)
    try:
        wait_until_up(proc, server.url, log, timeout)
        server.wait_for_location(timeout)
        server.wait_for_daemon(timeout)
        yield server
    finally:
        stop_group(proc)
