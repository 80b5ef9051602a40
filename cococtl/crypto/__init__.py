"""Cryptographic formats: Go/Cocos AES-256-GCM files and key material."""
