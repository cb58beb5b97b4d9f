"""Hybrid routing: calibrate a policy that sends each prompt to the cheapest route that answers it well, on the
user's own results, and replay it on traffic before it is deployed (docs/routing.md). Scoring lives in
``llm_client.routing_policy`` (pure Python, for the client); fitting and the figures live here (numpy, scipy)."""
