"""Remote resource fetchers: one module per scheme, chosen by sources.registry."""
