"""Sites as first-class: terminal tokens and their revocation, terminal
presence (the live directory), and ad-hoc calls between sites.

See docs/protocol.md, "Sites, terminals and calls"; the Socket.IO edge is
`signaling/sites.py`, the REST edge `web/api/sites.py`.
"""
