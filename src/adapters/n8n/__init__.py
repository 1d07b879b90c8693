"""n8n adapters: notifications POSTed to an n8n webhook (a Webhook trigger node)."""
