"""Router, route tables and the store-and-forward outbox: between the transports and the core."""
