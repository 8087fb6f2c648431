#!/usr/bin/env python3
"""Lists C++ functions longer than a limit, longest first: `file:line name lines`.

Usage: scripts/function_lengths.py [--limit 70] [--check] [DIR_OR_FILE...]
       (default: node net persist cmd)

A function's length is the number of lines from its signature's first line to its closing
brace. The scan tracks braces outside comments, strings and character literals, and takes a
block opened at namespace or class scope after a parenthesised signature (not a control
statement, not an initialiser) as a function body. Lambdas and local classes count inside the
function that holds them. Exit 0, or with --check exit 1 when any function is over the limit
(scripts/test.sh runs it so, for node net persist cmd).
"""
import argparse
import pathlib
import re
import sys

kDefaultDirs = ["node", "net", "persist", "cmd"]
kControl = re.compile(r"^\s*(if|for|while|switch|catch|do|else)\b")
kScope = re.compile(r"\b(namespace|class|struct|union|enum)\b[^()]*$")


def strip_code(text):
    """The text with comments, strings and character literals blanked, newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == "'" and i > 0 and text[i - 1].isalnum():  # a digit separator: 1'000
            out.append(c)
            i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    code = strip_code(path.read_text(errors="replace"))
    stack, results, head, head_line, line = [], [], "", 1, 1
    for c in code:
        if c == "\n":
            line += 1
        if c == "{":
            in_function = any(kind == "function" for kind, *_ in stack)
            text = head.strip()
            if in_function:
                kind = "block"
            elif kScope.search(text) or text.startswith("extern"):
                kind = "scope"
            elif ")" in text and not kControl.match(text) and not text.endswith("="):
                kind = "function"
            else:
                kind = "block"
            name = re.sub(r"\s+", " ", text.split("(")[0]).split(" ")[-1] if kind == "function" else ""
            stack.append((kind, name, head_line))
            head, head_line = "", line
        elif c == "}":
            if stack:
                kind, name, start = stack.pop()
                if kind == "function":
                    results.append((line - start + 1, start, name))
            head, head_line = "", line
        elif c == ";":
            head, head_line = "", line
        else:
            if not head.strip() and not c.isspace():
                head_line = line
            head += c
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=70)
    parser.add_argument("--check", action="store_true", help="exit 1 if any is over the limit")
    parser.add_argument("paths", nargs="*", default=kDefaultDirs)
    args = parser.parse_args()
    found = []
    for root in args.paths:
        p = pathlib.Path(root)
        files = [p] if p.is_file() else sorted(p.rglob("*.cc")) + sorted(p.rglob("*.h"))
        for f in files:
            for length, start, name in functions(f):
                if length > args.limit:
                    found.append((length, f"{f}:{start}", name))
    for length, where, name in sorted(found, reverse=True):
        print(f"{where} {name} {length}")
    over_100 = sum(1 for length, *_ in found if length > 100)
    print(f"{len(found)} functions over {args.limit} lines, {over_100} over 100", file=sys.stderr)
    return 1 if args.check and found else 0


if __name__ == "__main__":
    sys.exit(main())
