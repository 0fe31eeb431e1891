"""Shared by the golden test scripts: the known-differences file and the check against it.

A known-differences file lists, one per line, the rows where wiremeter and the reference differ
on purpose: tab-separated key columns (capture, side, ...), the number of such rows, the row's
fields, and the reason; '#' starts a comment. A test passes only when the differences it finds
are exactly those: a new one fails, and so does one that went away, until it is removed.
"""
import os
import sys


def read_known(path, key_columns):
    """{(key columns..., row fields...): count} from the file; exits with a one-line error on a
    malformed line. The count is the column after the `key_columns` key columns."""
    known = {}
    for n, parts in _rows(path):
        if (len(parts) < key_columns + 3 or not parts[-1].strip()
                or not parts[key_columns].isdigit()):
            sys.exit(f"FAIL: {path}:{n}: want {key_columns} key columns, a count, the row's "
                     "fields and a reason, tab-separated")
        known[tuple(parts[:key_columns] + parts[key_columns + 1:-1])] = int(parts[key_columns])
    return known


def _rows(path):
    """(line number, tab-separated fields) of each line that is not blank or a # comment."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                yield n, line.split("\t")


def check_known(found, path, key_columns):
    """Compares the differences found ({key: count}) with the file; prints each mismatch and
    exits with FAIL when there is one."""
    _compare(found, read_known(path, key_columns), path,
             lambda k: "\t".join(k[:key_columns] + (str(found[k]),) + k[key_columns:]),
             "CHANGED COUNT")


def check_known_values(found, path, key_columns, value_columns):
    """The same check for files that list a difference by its values instead of a count: each
    line is `key_columns` key columns, `value_columns` values (as the test prints them: the
    reference's and ours, in the test's order) and a reason. `found` is {key tuple: values
    tuple}; values compare as text. Exits with FAIL on a malformed line or any mismatch."""
    known = {}
    width = key_columns + value_columns + 1
    for n, parts in _rows(path):
        if len(parts) != width or not parts[-1].strip():
            sys.exit(f"FAIL: {path}:{n}: want {key_columns} key columns, {value_columns} "
                     "values and a reason, tab-separated")
        known[tuple(parts[:key_columns])] = tuple(parts[key_columns:-1])
    found = {k: tuple(str(v) for v in vals) for k, vals in found.items()}
    _compare(found, known, path, lambda k: "\t".join(k + found[k]), "CHANGED")


def _compare(found, known, path, describe, changed):
    """Prints every difference between found and known ({key: value}), `describe(key)` for a
    new one, and exits with FAIL when there is any."""
    ok = True
    for k in sorted(found.keys() - known.keys()):
        ok = False
        print("NEW DIFFERENCE: " + describe(k))
    for k in sorted(known.keys() - found.keys()):
        ok = False
        print(f"NO LONGER DIFFERENT (remove from {os.path.basename(path)}): " + "\t".join(k))
    for k in sorted(known.keys() & found.keys()):
        if known[k] != found[k]:
            ok = False
            print(f"{changed}: " + "\t".join(k) + f": was {known[k]}, now {found[k]}")
    if not ok:
        sys.exit("FAIL: the differences are not the known ones")
