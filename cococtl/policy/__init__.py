"""Rego policies (Trustee's resource and attestation policies), parsed and evaluated with regopy."""
