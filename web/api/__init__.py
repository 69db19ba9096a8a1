"""REST modules; each exposes `routes = web.RouteTableDef()` (found at start)."""
