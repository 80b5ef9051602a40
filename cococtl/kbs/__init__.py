"""Key Broker Service (Trustee) protocol: resource URIs, client, admin API."""
