"""Answer structures: their exact keys, and matching them part by part.

`reading.read_answer` gives a structure of plain trees; `canonical_form`
merges notations of one object (a column vector and a tuple, a braced set
and a bare list, a set of one value and the value, an inequality linear
in one variable and its interval, `reading.solved_interval`) and wraps
every expression in a `Leaf` that carries its exact key and numeric
fingerprint. Then:

- `structure_key` is hashable and equal for equivalent structures
  whenever their parts' exact keys settle it (used for hashing in
  `cluster_answers`);
- `tasks` matches two structures part by part and returns None when they
  are provably different, else the sympy tasks that must all hold.

Kinds: ("expr", Leaf), ("text", words), ("list", parts) (a set: order
free, duplicates dropped; a part is an "expr" or a "seq"), ("seq", open,
close, leaves), ("matrix", rows of leaves), ("union", structures),
("eq", lhs, rhs), ("rel", op, lhs, rhs).
"""

from keras_mathft.grading import canonical
from keras_mathft.grading import reading


def _is_inf(node):
    if node == ("const", "inf"):
        return 1
    if node[0] == "neg" and node[1] == ("const", "inf"):
        return -1
    return 0


class Leaf:
    """One expression of an answer with its exact key and fingerprint.

    Both are computed once, when the answer is analyzed, so comparisons
    between cached analyses never redo in-process arithmetic.
    """

    __slots__ = ("node", "key", "print")

    def __init__(self, node):
        self.node = node
        sign = _is_inf(node)
        self.key = ("inf", sign) if sign else canonical.exact_key(node)
        self.print = None if sign else canonical.fingerprint(node)


def _vector_items(rows):
    """A one-row or one-column matrix read as an ordered tuple."""
    if len(rows) == 1:
        return rows[0]
    if all(len(row) == 1 for row in rows):
        return tuple(row[0] for row in rows)
    return None


def _leaves(nodes):
    return tuple(map(Leaf, nodes))


def canonical_form(structure):
    """Merges notations of one object, and wraps expressions in leaves."""
    kind = structure[0]
    if kind == "expr":
        return ("expr", Leaf(structure[1]))
    if kind == "matrix":
        # Column/row vectors and parenthesized tuples are the same object.
        items = _vector_items(structure[1])
        if items is not None and len(items) > 1:
            return ("seq", "(", ")", _leaves(items))
        return ("matrix", tuple(map(_leaves, structure[1])))
    if kind == "set":
        return _deduplicated([("expr", Leaf(node)) for node in structure[1]])
    if kind == "list":
        return _deduplicated(list(map(canonical_form, structure[1])))
    if kind == "seq":
        return structure[:3] + (_leaves(structure[3]),)
    if kind == "union":
        return ("union", tuple(map(canonical_form, structure[1])))
    if kind == "rel":
        interval = reading.solved_interval(structure)
        if interval is not None:
            return canonical_form(interval)
    return structure


def _deduplicated(parts):
    """A list is the set of its values: parts with the key of an earlier
    part go (parts without a key stay, as nothing cheap can merge them),
    and a set of one value is that value (`\\{1\\}` and `1, 1` are `1`)."""
    seen, kept = set(), []
    for part in parts:
        key = structure_key(part)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        kept.append(part)
    if len(kept) == 1:
        return kept[0]
    return ("list", tuple(kept))


def difference(lhs, rhs):
    return ("add", (lhs, ("neg", rhs)))


def _scaled_key(node, positive):
    """Key of a polynomial up to a nonzero (positive) rational factor."""
    poly = canonical.exact_poly(node)
    if poly is None:
        return None
    if not poly:
        return ()
    lead = poly[min(poly, key=repr)]
    scale = abs(lead) if positive else lead
    return tuple(sorted(((m, c / scale) for m, c in poly.items()), key=repr))


def _all_keys(parts):
    keys = tuple(map(structure_key, parts))
    return None if None in keys else keys


def structure_key(s):
    """A hashable exact form of a canonical structure, or None."""
    kind = s[0]
    if kind == "expr":
        return None if s[1].key is None else ("expr", s[1].key)
    if kind == "text":
        return s
    if kind in ("list", "union"):
        keys = _all_keys(s[1])
        return None if keys is None else (kind, tuple(sorted(keys, key=repr)))
    if kind == "seq":
        keys = tuple(leaf.key for leaf in s[3])
        return None if None in keys else ("seq", s[1], s[2], keys)
    if kind == "matrix":
        keys = tuple(tuple(c.key for c in row) for row in s[1])
        if any(None in row for row in keys):
            return None
        return ("matrix", keys)
    if kind == "eq":
        key = _scaled_key(difference(s[1], s[2]), positive=False)
        return None if key is None else ("eq", key)
    if kind == "rel":
        key = _scaled_key(difference(s[3], s[2]), positive=s[1] != "!=")
        return None if key is None else ("rel", s[1], key)
    return None


# ----------------------------------------------------------------------
# Part-by-part matching. Each function returns None when the structures
# are provably different, else a list of sympy tasks that must all hold.
# ----------------------------------------------------------------------
def _leaf_tasks(leaf_a, leaf_b):
    ka, kb = leaf_a.key, leaf_b.key
    if ka is not None and ka == kb:
        return []
    a, b = leaf_a.node, leaf_b.node
    if _is_inf(a) or _is_inf(b):
        return None
    if ka is not None and kb is not None:
        # Two exact rational numbers with different keys differ.
        if canonical.is_rational(ka) and canonical.is_rational(kb):
            return None
    if not canonical.fingerprints_close(leaf_a.print, leaf_b.print):
        return None
    return [("equal", a, b)]


def _ordered_tasks(parts_a, parts_b, match):
    if len(parts_a) != len(parts_b):
        return None
    out = []
    for a, b in zip(parts_a, parts_b):
        sub = match(a, b)
        if sub is None:
            return None
        out += sub
    return out


def _unordered_tasks(parts_a, parts_b):
    if len(parts_a) != len(parts_b):
        return None
    remaining = list(parts_b)
    unmatched = []
    for a in parts_a:
        key = structure_key(a)
        for j, b in enumerate(remaining):
            if key is not None and structure_key(b) == key:
                del remaining[j]
                break
        else:
            unmatched.append(a)
    out = []
    for a in unmatched:
        for j, b in enumerate(remaining):
            sub = tasks(a, b)
            if sub is not None:
                out += sub
                del remaining[j]
                break
        else:
            return None
    return out


def tasks(sa, sb):
    """None if two canonical structures differ, else their sympy tasks."""
    if sa[0] != sb[0]:
        return None
    kind = sa[0]
    if kind == "expr":
        return _leaf_tasks(sa[1], sb[1])
    if kind == "text":
        return [] if sa == sb else None
    if kind == "list":
        return _unordered_tasks(sa[1], sb[1])
    if kind == "seq":
        if sa[1:3] != sb[1:3]:
            return None  # open/closed ends must match
        return _ordered_tasks(sa[3], sb[3], _leaf_tasks)
    if kind == "matrix":
        if [len(r) for r in sa[1]] != [len(r) for r in sb[1]]:
            return None
        return _ordered_tasks(
            [c for row in sa[1] for c in row],
            [c for row in sb[1] for c in row],
            _leaf_tasks,
        )
    if kind == "union":
        ka, kb = structure_key(sa), structure_key(sb)
        return [] if ka is not None and ka == kb else None
    if kind in ("eq", "rel"):
        if kind == "rel" and sa[1] != sb[1]:
            return None
        positive = kind == "rel" and sa[1] != "!="
        da = difference(*sa[1:3]) if kind == "eq" else difference(*sa[:1:-1])
        db = difference(*sb[1:3]) if kind == "eq" else difference(*sb[:1:-1])
        if not canonical.fingerprints_proportional(
            canonical.fingerprint(da), canonical.fingerprint(db), positive
        ):
            return None
        return [("proportional", da, db, positive)]
    return None
