"""A local development/test KBS that behaves like Trustee's (protocol 0.4.0). Not a production KBS."""
