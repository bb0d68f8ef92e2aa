"""Initial schema: registry, tariffs, sessions, metering, settlement, billing, messaging.

Revision ID: 0001
Revises:
Create Date: 2025-11-26

Written out by hand, table by table, so that it never changes when the models do;
``tests/unit/store`` checks that it yields exactly ``evgrid.adapters.store.models``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(length=64)
MESSAGE_ID = sa.String(length=128)
STATE = sa.String(length=32)
MONEY = sa.Numeric(precision=14, scale=6)
POWER_KW = sa.Numeric(precision=10, scale=3)
UTC_TIME = sa.DateTime(timezone=True)
# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT one.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create every table of the first release."""
    _registry()
    _tariffs()
    _sessions()
    _metering_and_billing()
    _messaging()


def _registry() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "customer_accounts",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_customer_accounts_status")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"],
                                name=op.f("fk_customer_accounts_customer_id_customers")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_customer_accounts")),
    )
    op.create_index(op.f("ix_customer_accounts_customer_id"), "customer_accounts", ["customer_id"])
    op.create_table(
        "feeders",
        sa.Column("feeder_id", ID, nullable=False),
        sa.Column("capacity_kw", POWER_KW, nullable=False),
        sa.PrimaryKeyConstraint("feeder_id", name=op.f("pk_feeders")),
    )
    op.create_table(
        "transformers",
        sa.Column("transformer_id", ID, nullable=False),
        sa.Column("capacity_kw", POWER_KW, nullable=False),
        sa.Column("feeder_id", ID, nullable=True),
        sa.Column("base_load_kw", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["feeder_id"], ["feeders.feeder_id"], name=op.f("fk_transformers_feeder_id_feeders")),
        sa.PrimaryKeyConstraint("transformer_id", name=op.f("pk_transformers")),
    )
    op.create_index(op.f("ix_transformers_feeder_id"), "transformers", ["feeder_id"])
    op.create_table(
        "service_locations",
        sa.Column("premise_number", ID, nullable=False),
        sa.Column("usage_point_id", ID, nullable=False),
        sa.Column("meter_number", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("transformer_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["customer_accounts.account_id"],
                                name=op.f("fk_service_locations_account_id_customer_accounts")),
        sa.ForeignKeyConstraint(["transformer_id"], ["transformers.transformer_id"],
                                name=op.f("fk_service_locations_transformer_id_transformers")),
        sa.PrimaryKeyConstraint("premise_number", name=op.f("pk_service_locations")),
        sa.UniqueConstraint("meter_number", name=op.f("uq_service_locations_meter_number")),
        sa.UniqueConstraint("usage_point_id", name=op.f("uq_service_locations_usage_point_id")),
    )
    op.create_index(op.f("ix_service_locations_account_id"), "service_locations", ["account_id"])
    op.create_index(op.f("ix_service_locations_transformer_id"), "service_locations", ["transformer_id"])
    op.create_table(
        "charging_stations",
        sa.Column("station_id", ID, nullable=False),
        sa.Column("premise_number", ID, nullable=False),
        sa.Column("max_power_kw", POWER_KW, nullable=False),
        sa.ForeignKeyConstraint(["premise_number"], ["service_locations.premise_number"],
                                name=op.f("fk_charging_stations_premise_number_service_locations")),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_charging_stations")),
    )
    op.create_index(op.f("ix_charging_stations_premise_number"), "charging_stations", ["premise_number"])
    op.create_table(
        "evs",
        sa.Column("ev_id", ID, nullable=False),
        sa.Column("owner_account_id", ID, nullable=False),
        sa.Column("battery_wh", sa.BigInteger(), nullable=False),
        sa.Column("max_power_kw", POWER_KW, nullable=False),
        sa.ForeignKeyConstraint(["owner_account_id"], ["customer_accounts.account_id"],
                                name=op.f("fk_evs_owner_account_id_customer_accounts")),
        sa.PrimaryKeyConstraint("ev_id", name=op.f("pk_evs")),
    )
    op.create_index(op.f("ix_evs_owner_account_id"), "evs", ["owner_account_id"])
    op.create_table(
        "station_leases",
        sa.Column("station_id", ID, nullable=False),
        sa.Column("worker_id", ID, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["charging_stations.station_id"],
                                name=op.f("fk_station_leases_station_id_charging_stations")),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_leases")),
    )
    op.create_index(op.f("ix_station_leases_worker_id"), "station_leases", ["worker_id"])


def _tariffs() -> None:
    op.create_table(
        "tariffs",
        sa.Column("tariff_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("third_party_price_per_kwh", MONEY, nullable=False),
        sa.Column("imported_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("tariff_id", name=op.f("pk_tariffs")),
    )
    op.create_table(
        "tariff_intervals",
        sa.Column("tariff_id", ID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("start_local", sa.String(length=5), nullable=False),
        sa.Column("end_local", sa.String(length=5), nullable=False),
        sa.Column("price_per_kwh", MONEY, nullable=False),
        sa.Column("ev_night", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["tariff_id"], ["tariffs.tariff_id"],
                                name=op.f("fk_tariff_intervals_tariff_id_tariffs")),
        sa.PrimaryKeyConstraint("tariff_id", "sequence", name=op.f("pk_tariff_intervals")),
    )


def _sessions() -> None:
    op.create_table(
        "charging_sessions",
        sa.Column("session_id", ID, nullable=False),
        sa.Column("request_mrid", ID, nullable=False),
        sa.Column("ev_id", ID, nullable=False),
        sa.Column("station_id", ID, nullable=False),
        sa.Column("premise_number", ID, nullable=False),
        sa.Column("owner_account_id", ID, nullable=False),
        sa.Column("host_account_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("requested_wh", sa.BigInteger(), nullable=False),
        sa.Column("reachable_wh", sa.BigInteger(), nullable=True),
        sa.Column("max_power_kw", POWER_KW, nullable=False),
        sa.Column("plugged_in_at", UTC_TIME, nullable=False),
        sa.Column("departure_at", UTC_TIME, nullable=False),
        sa.Column("tariff_id", ID, nullable=True),
        sa.Column("planned_start", UTC_TIME, nullable=True),
        sa.Column("planned_end", UTC_TIME, nullable=True),
        sa.Column("planned_wh", sa.BigInteger(), nullable=True),
        sa.Column("started_at", UTC_TIME, nullable=True),
        sa.Column("start_register_wh", sa.BigInteger(), nullable=True),
        sa.Column("end_register_wh", sa.BigInteger(), nullable=True),
        sa.Column("consumed_wh", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", UTC_TIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("kind IN ('home', 'thirdParty')", name=op.f("ck_charging_sessions_kind")),
        sa.ForeignKeyConstraint(["ev_id"], ["evs.ev_id"], name=op.f("fk_charging_sessions_ev_id_evs")),
        sa.ForeignKeyConstraint(["station_id"], ["charging_stations.station_id"],
                                name=op.f("fk_charging_sessions_station_id_charging_stations")),
        sa.ForeignKeyConstraint(["premise_number"], ["service_locations.premise_number"],
                                name=op.f("fk_charging_sessions_premise_number_service_locations")),
        sa.ForeignKeyConstraint(["owner_account_id"], ["customer_accounts.account_id"],
                                name=op.f("fk_charging_sessions_owner_account_id_customer_accounts")),
        sa.ForeignKeyConstraint(["host_account_id"], ["customer_accounts.account_id"],
                                name=op.f("fk_charging_sessions_host_account_id_customer_accounts")),
        sa.ForeignKeyConstraint(["tariff_id"], ["tariffs.tariff_id"],
                                name=op.f("fk_charging_sessions_tariff_id_tariffs")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_charging_sessions")),
    )
    op.create_index("ix_charging_sessions_ev_id_state", "charging_sessions", ["ev_id", "state"])
    op.create_index("ix_charging_sessions_station_id_state", "charging_sessions", ["station_id", "state"])
    op.create_index(op.f("ix_charging_sessions_request_mrid"), "charging_sessions", ["request_mrid"])
    op.create_table(
        "session_transitions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("from_state", STATE, nullable=True),
        sa.Column("to_state", STATE, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("message_id", MESSAGE_ID, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["charging_sessions.session_id"],
                                name=op.f("fk_session_transitions_session_id_charging_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_transitions")),
    )
    op.create_index(op.f("ix_session_transitions_session_id"), "session_transitions", ["session_id"])
    op.create_table(
        "slot_allocations",
        sa.Column("session_id", ID, nullable=False),
        sa.Column("slot_start", UTC_TIME, nullable=False),
        sa.Column("power_kw", sa.Numeric(precision=8, scale=3), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["charging_sessions.session_id"],
                                name=op.f("fk_slot_allocations_session_id_charging_sessions")),
        sa.PrimaryKeyConstraint("session_id", "slot_start", name=op.f("pk_slot_allocations")),
    )
    op.create_index(op.f("ix_slot_allocations_slot_start"), "slot_allocations", ["slot_start"])


def _metering_and_billing() -> None:
    op.create_table(
        "meter_readings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("meter_number", ID, nullable=False),
        sa.Column("reading_type", sa.String(length=128), nullable=False),
        sa.Column("timestamp", UTC_TIME, nullable=False),
        sa.Column("value_wh", sa.BigInteger(), nullable=False),
        sa.Column("session_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_message_id", MESSAGE_ID, nullable=True),
        sa.CheckConstraint("kind IN ('register', 'interval')", name=op.f("ck_meter_readings_kind")),
        sa.ForeignKeyConstraint(["session_id"], ["charging_sessions.session_id"],
                                name=op.f("fk_meter_readings_session_id_charging_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_readings")),
        sa.UniqueConstraint("meter_number", "reading_type", "timestamp",
                            name=op.f("uq_meter_readings_meter_number_reading_type_timestamp")),
    )
    op.create_index(op.f("ix_meter_readings_session_id"), "meter_readings", ["session_id"])
    op.create_table(
        "settlement_records",
        sa.Column("settlement_id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("from_account_id", ID, nullable=False),
        sa.Column("to_account_id", ID, nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["charging_sessions.session_id"],
                                name=op.f("fk_settlement_records_session_id_charging_sessions")),
        sa.ForeignKeyConstraint(["from_account_id"], ["customer_accounts.account_id"],
                                name=op.f("fk_settlement_records_from_account_id_customer_accounts")),
        sa.ForeignKeyConstraint(["to_account_id"], ["customer_accounts.account_id"],
                                name=op.f("fk_settlement_records_to_account_id_customer_accounts")),
        sa.PrimaryKeyConstraint("settlement_id", name=op.f("pk_settlement_records")),
        sa.UniqueConstraint("session_id", name=op.f("uq_settlement_records_session_id")),
    )
    op.create_table(
        "bills",
        sa.Column("bill_id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("issued_at", UTC_TIME, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["charging_sessions.session_id"],
                                name=op.f("fk_bills_session_id_charging_sessions")),
        sa.PrimaryKeyConstraint("bill_id", name=op.f("pk_bills")),
        sa.UniqueConstraint("session_id", name=op.f("uq_bills_session_id")),
    )


def _messaging() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("message_id", MESSAGE_ID, nullable=False),
        sa.Column("destination", ID, nullable=False),
        sa.Column("verb", sa.String(length=16), nullable=False),
        sa.Column("noun", ID, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("delivered_at", UTC_TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f("ck_outbox_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "inbound_messages",
        sa.Column("message_id", MESSAGE_ID, nullable=False),
        sa.Column("verb", sa.String(length=16), nullable=False),
        sa.Column("noun", ID, nullable=False),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("reply", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_inbound_messages")),
    )
    op.create_table(
        "audit",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", ID, nullable=False),
        sa.Column("action", ID, nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_index(op.f("ix_audit_at"), "audit", ["at"])


def downgrade() -> None:
    """Drop every table, dependants first."""
    for table in (
        "audit", "inbound_messages", "outbox",
        "bills", "settlement_records", "meter_readings",
        "slot_allocations", "session_transitions", "charging_sessions",
        "tariff_intervals", "tariffs",
        "station_leases", "evs", "charging_stations", "service_locations",
        "transformers", "feeders", "customer_accounts", "customers",
    ):
        op.drop_table(table)
