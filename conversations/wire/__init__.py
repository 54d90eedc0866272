"""The wire contract as code: limits, declarations, frame builders.

`schema` declares the message object and every frame; `frames` builds and
serializes them; `asyncapi` publishes the WebSocket API; `protocol.py`
parses client frames against the same `limits`.
"""
