"""The web dashboard the agent serves (`infraguardian-agent run`, or `dashboard` alone): health of
every stack, the incident timeline with evidence and decisions, the agent's state, and approvals.

Modules: settings (where it listens, its token), auth (bearer token or a session cookie made from
it), sources (what each page shows, read from the incident store, the approval book and the MCP
server), live (server-sent events), app (routes), server (uvicorn on the agent's event loop),
charts / graph_svg (inline SVG pictures), templates/ and static/ (no CDN: the server may be offline).
"""
