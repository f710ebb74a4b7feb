"""Transport faults: a loopback proxy that resets, tarpits, slows, slices and cuts connections.

``proxy.FaultProxy`` relays bytes between a client and the fake server; ``shaping.Shaper``
is the per-direction plan (latency with seeded jitter, bandwidth, slicing, data limits).
"""
