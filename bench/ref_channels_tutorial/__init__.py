"""The Django Channels tutorial design, as a minimal peer for the benchmark.

One AsyncWebsocketConsumer; each message saved with the ORM through
`database_sync_to_async`, then one `group_send` per participant. Served by
daphne with `bench.ref_channels_tutorial.settings`; see bench/README.md.
"""
