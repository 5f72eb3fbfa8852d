"""Resources carry the validated config itself: every kind survives the trip through Dagster config, and what
Dagster holds and shows (the repository snapshot the UI reads) names secrets by ``${VAR}``, never by value."""

import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster_shared.serdes import serialize_value

from pipeline_assets.assembly import build_definitions
from pipeline_assets.config import StageConfig, parse_config
from pipeline_assets.resources import DatabaseResource, FilesResource, StageResource

ROLE = "arn:aws:iam::123456789012:role/redshift-copy"
SECRETS = {
    "PA_TEST_APP_PASSWORD": "app-pw-9f3c",
    "PA_TEST_SNOW_PASSWORD": "snow-pw-1b7e",
    "PA_TEST_RS_PASSWORD": "rs-pw-44d0",
    "PA_TEST_SSH_PASSPHRASE": "ssh-pass-8a21",
    "PA_TEST_STAGE_KEY": "stage-key-5c6f",
    "PA_TEST_STAGE_SECRET": "stage-secret-0e9d",
    "PA_TEST_DROPS_KEY": "drops-key-7d13",
    "PA_TEST_DROPS_SECRET": "drops-secret-2f88",
}
CONFIG = f"""
connections:
  app: {{kind: postgres, host: db, user: etl, database: app, password: "${{PA_TEST_APP_PASSWORD}}"}}
  shop: {{kind: mysql, host: shop, port: 3307, user: etl, database: shop}}
  lite: {{kind: sqlite, path: /data/shop.sqlite}}
  duck: {{kind: duckdb, path: /data/dw.duckdb}}
  snow:
    kind: snowflake
    user: loader
    password: "${{PA_TEST_SNOW_PASSWORD}}"
    database: ANALYTICS
    snowflake: {{account: myorg-acct, warehouse: LOAD_WH, unload: {{include_query_id: true}}}}
  rs:
    kind: redshift
    host: cluster.internal
    user: loader
    database: dev
    password: "${{PA_TEST_RS_PASSWORD}}"
    redshift:
      iam_role: "{ROLE}"
      ssh_tunnel:
        host: bastion
        user: ec2-user
        private_key_path: /keys/id_ed25519
        private_key_password: "${{PA_TEST_SSH_PASSPHRASE}}"
  drops:
    kind: files
    url: s3://drops/landing
    s3: {{region: eu-west-1, access_key_id: "${{PA_TEST_DROPS_KEY}}", secret_access_key: "${{PA_TEST_DROPS_SECRET}}"}}
stage:
  url: s3://stage-bucket/staging
  s3: {{access_key_id: "${{PA_TEST_STAGE_KEY}}", secret_access_key: "${{PA_TEST_STAGE_SECRET}}"}}
tables:
  - {{source: app, table: public.orders, target: rs}}
  - {{source: shop, table: sales.items, target: duck}}
  - {{source: lite, table: customers, target: app}}
  - {{source: snow, table: BI.PAYERS, target: duck}}
  - {{source: duck, table: main.facts, target: snow}}
  - {{source: drops, table: events, target: app, files: {{pattern: "events/*.csv", format: csv}}}}
"""


@pytest.fixture
def secrets_set(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def test_every_kind_comes_back_from_its_resource_as_it_was_validated():
    project = parse_config(CONFIG)
    for name, connection in project.connections.items():
        resource = (FilesResource if connection.kind == "files" else DatabaseResource).from_config(name, connection)
        assert resource.config == connection, name
        assert None not in resource.connection.values(), "Dagster's config maps hold no nulls"
    assert StageResource.from_config(project.stage).config == project.stage


@pytest.mark.filterwarnings("ignore:Property `ScheduleDefinition.environment_vars` is deprecated:DeprecationWarning")
def test_dagster_holds_and_shows_secret_references_never_their_values(secrets_set):
    definitions = build_definitions(parse_config(CONFIG))
    shown = serialize_value(RepositorySnap.from_def(definitions.get_repository_def()))
    leaked = [name for name, value in SECRETS.items() if value in shown]
    assert not leaked, f"the values of {leaked} are in the repository snapshot"
    assert all(f"${{{name}}}" in shown for name in SECRETS), "each secret is shown as its reference"
    resources = definitions.resources or {}
    assert not [key for key, resource in resources.items() for value in SECRETS.values() if value in repr(resource)]


def test_secrets_are_read_when_the_stage_is_opened(monkeypatch):
    settings = {"access_key_id": "${PA_TEST_STAGE_KEY}", "secret_access_key": "${PA_TEST_STAGE_SECRET}"}
    resource = StageResource.from_config(StageConfig(url="s3://stage-bucket/staging", s3=settings))
    monkeypatch.setenv("PA_TEST_STAGE_KEY", "later-key")
    monkeypatch.setenv("PA_TEST_STAGE_SECRET", "later-secret")
    assert resource.store().access_keys == ("later-key", "later-secret")
