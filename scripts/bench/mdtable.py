# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Markdown tables and ratios, shared by the benchmark reports."""


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return "%.2fx" % (a / b)


def table(head, body):
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
    for b in body:
        print("| " + " | ".join(str(x) for x in b) + " |")
    print()
