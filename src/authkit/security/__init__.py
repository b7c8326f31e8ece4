"""Cryptography and request-safety mechanisms shared by every flow."""
