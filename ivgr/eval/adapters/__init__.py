"""Optional adapters to external evaluation toolkits (imported only when a toolkit asks)."""
