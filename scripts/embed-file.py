#!/usr/bin/env python3
"""Write a C header holding a file's bytes: embed-file.py IN SYMBOL > OUT.

The dashboard page is served from the binary itself, so `sluice run` needs
no files beside it and nothing is fetched from anywhere.
"""
import sys

data = open(sys.argv[1], "rb").read()
sym = sys.argv[2]
out = [f"/* Generated from {sys.argv[1]} by scripts/embed-file.py; do not edit. */",
       f"static const unsigned char {sym}[] = {{"]
for i in range(0, len(data), 16):
    out.append("\t" + ", ".join(str(b) for b in data[i:i + 16]) + ",")
out += ["};", f"static const unsigned int {sym}_len = {len(data)};", ""]
sys.stdout.write("\n".join(out))
