"""Peer-compatible modes: configurations that make edgesim model what a peer simulator models (SCALE-Sim)."""
