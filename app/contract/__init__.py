"""The API contract gate: the service's OpenAPI document against the committed contract (openapi.json)."""
