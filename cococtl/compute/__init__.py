"""The attested-computation pipeline: what a Cocos agent does inside a TEE, as one command."""
