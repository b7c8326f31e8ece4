"""
Webhooks (Standard Webhooks): the endpoints from `AUTHKIT_WEBHOOKS`, the events written
with each change, and their signed delivery with retries (outbox.py).
"""

from .endpoints import EVENT_TYPES, Endpoint, load_endpoints, new_secret
from .outbox import Delivery, Webhooks, post_event

__all__ = [
    "EVENT_TYPES",
    "Delivery",
    "Endpoint",
    "Webhooks",
    "load_endpoints",
    "new_secret",
    "post_event",
]
