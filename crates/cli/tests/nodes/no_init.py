#!/usr/bin/env python3
"""Reads everything and never answers init."""
import sys

for line in sys.stdin:
    sys.stderr.write("ignoring " + line)
