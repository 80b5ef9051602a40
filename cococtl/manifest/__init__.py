"""Computation manifests: the seed form, Cocos' Go JSON form, protojson camelCase, and YAML of each."""
