"""The dropsync ledger: SQLAlchemy 2.0 typed models. Import from here."""

from models.base import Base
from models.cancellation import INTENT_STATES, LIVE_INTENT_STATES, CancellationRequest, IntentState, ShopifyIntent
from models.chargebacks import Chargeback
from models.inbox import OutboxMessage, WebhookDelivery
from models.ledger import LEDGER_KINDS, LedgerEntry, TimelineEvent
from models.notifications import Notification
from models.orders import FulfillmentOrder, LineItem, Order, Refund, Transaction
from models.returns import RETURN_STATES, RequestEvidence, ReturnCase, ReturnLine
from models.shop import Shop
from models.supplier import Alert, AliExpressToken, Dispute, SupplierOrder, SupplierOrderItem
from models.sync import BulkBackfill
from models.system import Heartbeat

__all__ = [
    "INTENT_STATES",
    "LEDGER_KINDS",
    "LIVE_INTENT_STATES",
    "RETURN_STATES",
    "Alert",
    "AliExpressToken",
    "Base",
    "BulkBackfill",
    "CancellationRequest",
    "Chargeback",
    "Dispute",
    "FulfillmentOrder",
    "Heartbeat",
    "IntentState",
    "LedgerEntry",
    "LineItem",
    "Notification",
    "Order",
    "OutboxMessage",
    "Refund",
    "RequestEvidence",
    "ReturnCase",
    "ReturnLine",
    "Shop",
    "ShopifyIntent",
    "SupplierOrder",
    "SupplierOrderItem",
    "TimelineEvent",
    "Transaction",
    "WebhookDelivery",
]
