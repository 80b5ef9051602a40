"""OCI images: layouts, ocicrypt layer encryption, attestation-agent key-provider annotations."""
