"""cococtl: a command-line toolkit for Confidential Containers and Cocos AI."""

__version__ = "0.1.0"
