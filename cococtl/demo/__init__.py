"""``cococtl demo``: the whole attested computation on this machine, with local peers."""
