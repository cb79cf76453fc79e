"""Refusing sympy tasks that could make sympy explode.

Power towers, exponents above `MAX_SYMPY_EXPONENT`, factorials of
non-literals and trees over `MAX_SYMPY_NODES` nodes never reach a worker:
such a pair compares "not equal" unless cheaper checks already decided.
"""

from keras_mathft.grading import canonical

# Trees above this many nodes never reach sympy.
MAX_SYMPY_NODES = 150
# Exponents a sympy task may carry: a literal of at most this magnitude or
# an expression with no powers or factorials inside.
MAX_SYMPY_EXPONENT = 1000


def _node_count(node, limit):
    count, stack = 0, [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            count += 1
            if count > limit:
                return count
            stack.extend(item)
    return count


def _safe_node(node):
    """Refuses trees that could make sympy explode (power towers, big
    exponents, factorials of non-literals)."""
    if not isinstance(node, tuple) or not node:
        return True
    kind = node[0]
    if kind == "pow":
        exponent = node[2]
        rational = canonical.rational_value(exponent)
        if rational is not None:
            if abs(rational) > MAX_SYMPY_EXPONENT:
                return False
        elif _contains(exponent, ("pow", "fact", "binom")):
            return False
    if kind in ("fact", "binom"):
        for arg in node[1:]:
            rational = canonical.rational_value(arg)
            if rational is None and _contains(arg, ("pow", "fact", "binom")):
                return False
            if rational is not None and abs(rational) > canonical.MAX_FACTORIAL:
                return False
    return all(_safe_node(child) for child in _children(node))


def _children(node):
    # A node is (kind, *args); an argument may be a tuple of nodes.
    return node[1:] if isinstance(node[0], str) else node


def _contains(node, kinds):
    if not isinstance(node, tuple) or not node:
        return False
    if node[0] in kinds:
        return True
    return any(_contains(child, kinds) for child in _children(node))


def task_is_safe(task):
    """True when both trees of a sympy task are small and tame (and hold
    no sum or product: those compare by exact key only)."""
    return all(
        _node_count(node, MAX_SYMPY_NODES) <= MAX_SYMPY_NODES
        and not _contains(node, ("big",))
        and _safe_node(node)
        for node in task[1:3]
    )
