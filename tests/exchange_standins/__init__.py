"""Local stand-ins for the hash exchanges: real HTTP servers (http.server in a thread on 127.0.0.1)
answering as each exchange's documented API does, with the request shapes threatexchange 1.2.17 sends.
They hold a list of upstream records that a test changes between fetches, check credentials the way
the real service does, and keep every request they saw. Nothing here reaches a live exchange."""

from tests.exchange_standins.ncmec import NCMECStandIn
from tests.exchange_standins.stopncii import StopNCIIStandIn
from tests.exchange_standins.tcap import TCAPStandIn
from tests.exchange_standins.threatexchange import ThreatExchangeStandIn

__all__ = ["NCMECStandIn", "StopNCIIStandIn", "TCAPStandIn", "ThreatExchangeStandIn"]
