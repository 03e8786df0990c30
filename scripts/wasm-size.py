#!/usr/bin/env python3
"""Where the page's wasm bytes go: code bytes by crate, the largest functions, and the bytes
of functions compiled more than once (the same symbol in several codegen units).

Reads the module cargo builds, before wasm-bindgen strips its name section:
    python3 scripts/wasm-size.py target/wasm32-unknown-unknown/release/rnnplay_web.wasm
No dependencies beyond Python 3."""
import collections
import re
import sys


def leb(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def sections(data):
    i = 8
    while i < len(data):
        sid = data[i]
        size, i = leb(data, i + 1)
        yield sid, i, size
        i += size


def imported_functions(data, off):
    count, j = leb(data, off)
    functions = 0
    for _ in range(count):
        for _ in range(2):  # module and field names
            length, j = leb(data, j)
            j += length
        kind = data[j]
        j += 1
        if kind == 0:
            _, j = leb(data, j)
            functions += 1
        elif kind in (1, 2):  # table (with its element type) or memory: limits
            j += kind == 1
            flags, j = leb(data, j)
            _, j = leb(data, j)
            if flags & 1:
                _, j = leb(data, j)
        else:  # global: type and mutability
            j += 2
    return functions


def function_names(data, off, size):
    length, j = leb(data, off)
    if data[j:j + length] != b"name":
        return None
    j += length
    names = {}
    while j < off + size:
        sub, j = data[j], j + 1
        sub_size, j = leb(data, j)
        if sub == 1:
            count, k = leb(data, j)
            for _ in range(count):
                index, k = leb(data, k)
                length, k = leb(data, k)
                names[index] = data[k:k + length].decode("utf-8", "replace")
                k += length
        j += sub_size
    return names


def crate(symbol):
    """The first crate a legacy-mangled Rust symbol names (for trait impls, the type's)."""
    if symbol.startswith("__wbindgen_describe"):
        return "(wasm-bindgen describe: stripped by wasm-bindgen)"
    if symbol.startswith("_R"):  # v0 mangling (the standard library): the first crate named
        v0 = re.search(r"C[s0-9A-Za-z]*?_(\d+)", symbol) or re.search(r"C(\d+)", symbol)
        return symbol[v0.end():v0.end() + int(v0.group(1))] if v0 else "(other)"
    m = re.match(r"_ZN(\d+)", symbol)
    if not m:
        return "(other)"
    first = symbol[m.end():m.end() + int(m.group(1))]
    for code, text in (("$LT$", "<"), ("$GT$", ">"), ("$RF$", "&"), ("$u20$", " "), ("..", "::")):
        first = first.replace(code, text)
    found = re.search(r"([a-z_][a-z0-9_]*)::", first) or re.match(r"([a-z_][a-z0-9_]*)$", first)
    return found.group(1) if found else "(other)"


def main(path):
    data = open(path, "rb").read()
    imports, bodies, names = 0, [], {}
    for sid, off, size in sections(data):
        if sid == 2:
            imports = imported_functions(data, off)
        elif sid == 10:
            count, j = leb(data, off)
            for _ in range(count):
                body, k = leb(data, j)
                bodies.append(body + (k - j))
                j = k + body
        elif sid == 0:
            names = function_names(data, off, size) or names
    by_crate, count, twice = collections.Counter(), collections.Counter(), collections.Counter()
    seen, largest = collections.Counter(), []
    for index, size in enumerate(bodies):
        symbol = names.get(imports + index, "?")
        owner = crate(symbol)
        by_crate[owner] += size
        count[owner] += 1
        base = re.sub(r"\.llvm\.\d+$", "", symbol)
        seen[base] += 1
        if seen[base] > 1:
            twice[owner] += size
        largest.append((size, symbol))
    total = sum(bodies)
    print(f"{len(bodies)} functions, {total} code bytes; {sum(twice.values())} in functions compiled more than once")
    print(f"{'bytes':>9} {'share':>6} {'functions':>9} {'again':>8}  crate")
    for owner, size in by_crate.most_common(25):
        print(f"{size:>9} {100 * size / total:>5.1f}% {count[owner]:>9} {twice[owner]:>8}  {owner}")
    print("largest functions:")
    for size, symbol in sorted(largest, reverse=True)[:15]:
        print(f"{size:>9}  {symbol[:120]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/wasm32-unknown-unknown/release/rnnplay_web.wasm")
