"""The exporter's HTTP side: the server, the endpoints it serves, and what they render."""
