"""Byte formats shared by every package: RFC 8785 JSON, DSSE envelopes, C2SP signed notes."""
